package stats

import (
	"errors"
	"time"
)

// sample is one measurement of a cgroup.
type sample struct {
	at time.Time
	// cpu is cumulative CPU time in nanoseconds.
	cpu uint64
	// Memory in bytes: usage includes the page cache; workingSet is usage
	// less inactive file pages, what the kernel cannot easily reclaim and
	// what kubelet evicts on.
	memUsage, workingSet, rss uint64
	// memLimit is 0 when there is no limit.
	memLimit                    uint64
	pageFaults, majorPageFaults uint64
	// pids is the number of tasks (threads included) in the cgroup.
	pids uint64
}

// noLimit is the smallest value cgroup v1 reports for an unlimited
// memory cgroup (PAGE_COUNTER_MAX pages, rounded down).
const noLimit = 1 << 62

func workingSet(usage, inactiveFile uint64) uint64 {
	if inactiveFile >= usage {
		return 0
	}
	return usage - inactiveFile
}

// errNoCgroup means the cgroup is gone (the container exited).
var errNoCgroup = errors.New("no such cgroup")
