package host

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"
)

// SetOOMScoreAdj gives berthd the requested oom_score_adj and returns the
// value in force. A kernel that refuses a negative value (no
// CAP_SYS_RESOURCE, as in unprivileged or nested containers) leaves the
// current value: the caller warns and carries on, it is not fatal.
func SetOOMScoreAdj(score int) (int, error) {
	const path = "/proc/self/oom_score_adj"
	err := os.WriteFile(path, []byte(strconv.Itoa(score)), 0)
	cur, readErr := readInt(path)
	if readErr != nil {
		return 0, errors.Join(err, readErr)
	}
	if err != nil {
		return cur, fmt.Errorf("set oom_score_adj to %d (keeping %d): %w", score, cur, err)
	}
	return cur, nil
}

// SetMaxThreads raises Go's thread limit to 90% of the kernel's, as dockerd
// does: with many pods, blocking syscalls (netns, mounts) can exceed Go's
// default of 10000 threads and crash the daemon.
func SetMaxThreads() (int, error) {
	kernelMax, err := readInt("/proc/sys/kernel/threads-max")
	if err != nil {
		return 0, err
	}
	n := kernelMax * 9 / 10
	if n > 10000 {
		debug.SetMaxThreads(n)
		return n, nil
	}
	return 10000, nil
}

func readInt(path string) (int, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(string(data)))
}

// DumpStacks writes every goroutine's stack to a new file in dir and
// returns its path (SIGUSR1).
func DumpStacks(dir string) (string, error) {
	path := filepath.Join(dir, fmt.Sprintf("berthd-stacks-%s.log", time.Now().UTC().Format("20060102T150405Z")))
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return "", err
	}
	defer f.Close()
	if err := pprof.Lookup("goroutine").WriteTo(f, 2); err != nil {
		return "", err
	}
	return path, nil
}
