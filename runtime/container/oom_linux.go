package container

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/berth-cri/berth/internal/cgroup"
)

// oomKilled reports whether the kernel's OOM killer killed a process in
// the memory cgroup an OCI cgroupsPath names (in either driver's form). It
// must be asked before the task is deleted, which removes the cgroup.
func oomKilled(cgroupsPath string) bool {
	dir, err := cgroup.Dir(cgroupsPath)
	if err != nil {
		return false
	}
	return oomKilledIn("/sys/fs/cgroup", dir)
}

// oomKilledIn reads the cgroup dir below the hierarchies mounted at root.
func oomKilledIn(root, dir string) bool {
	// cgroup v2: memory.events; v1: memory.oom_control. Both count
	// oom_kill since Linux 4.13.
	for _, file := range []string{
		filepath.Join(root, dir, "memory.events"),
		filepath.Join(root, "memory", dir, "memory.oom_control"),
	} {
		if n, ok := readCounter(file, "oom_kill"); ok {
			return n > 0
		}
	}
	return false
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
