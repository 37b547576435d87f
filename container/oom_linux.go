package container

import (
	"bufio"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/berth-cri/berth/internal/cgroup"
)

const cgroupRoot = "/sys/fs/cgroup"

// oomKilledIn reports whether the kernel's OOM killer killed a process in
// the memory cgroup dir below the hierarchies mounted at root; known is
// false when the cgroup is gone. It must be asked before the task is
// deleted, which removes the cgroup.
func oomKilledIn(root, dir string) (killed, known bool) {
	// cgroup v2: memory.events; v1: memory.oom_control. Both count
	// oom_kill since Linux 4.13.
	for _, file := range []string{
		filepath.Join(root, dir, "memory.events"),
		filepath.Join(root, "memory", dir, "memory.oom_control"),
	} {
		if n, ok := readCounter(file, "oom_kill"); ok {
			return n > 0, true
		}
	}
	return false, false
}

// sigkillExit is the exit code of a process the OOM killer killed.
const sigkillExit = 128 + 9

// oomAtExit says whether the OOM killer ended a container that exited
// with code. Its cgroup's count answers while the cgroup is there. With
// the systemd driver systemd removes an empty scope at once, and the
// shim's watcher (WatchOOM) can lose that race too; then a SIGKILL that
// Berth did not send, while the pod's cgroup counted a new OOM kill since
// the container started (oomBaseline), is the OOM killer's.
func oomAtExit(c *Container, code int32) bool { return oomAtExitIn(cgroupRoot, c, code) }

func oomAtExitIn(root string, c *Container, code int32) bool {
	dir, err := cgroup.Dir(c.CgroupsPath)
	if err != nil {
		return false
	}
	if killed, known := oomKilledIn(root, dir); known {
		return killed
	}
	base, ok := c.oomBaseline()
	if !ok || code != sigkillExit || c.killSent.Load() {
		return false
	}
	n, ok := readCounter(filepath.Join(root, path.Dir(dir), "memory.events"), "oom_kill")
	return ok && n > base
}

// parentOOMKills is the cgroup v2 count of OOM kills in the parent of the
// cgroup a cgroupsPath names, and below it (memory.events is hierarchical):
// the pod's cgroup, which outlives the container's. ok is false on cgroup
// v1, whose count is not hierarchical.
func parentOOMKills(cgroupsPath string) (n uint64, ok bool) {
	dir, err := cgroup.Dir(cgroupsPath)
	if err != nil {
		return 0, false
	}
	return readCounter(filepath.Join(cgroupRoot, path.Dir(dir), "memory.events"), "oom_kill")
}

func readCounter(path, key string) (uint64, bool) {
	f, err := os.Open(path)
	if err != nil {
		return 0, false
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		k, v, ok := strings.Cut(s.Text(), " ")
		if ok && k == key {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
			return n, err == nil
		}
	}
	return 0, false
}
