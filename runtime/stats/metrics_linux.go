package stats

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"
)

// readMetrics reads the cgroup at path (below each hierarchy's root) in
// full and counts the open files of its processes.
func readMetrics(v2 bool, path string) (reading, error) {
	var (
		r    reading
		pids []uint64
		err  error
	)
	if v2 {
		r, pids, err = readMetricsV2(filepath.Join(cgroupRoot, path))
	} else {
		r, pids, err = readMetricsV1(cgroupRoot, path)
	}
	if err != nil {
		return r, err
	}
	r.procs = uint64(len(pids))
	r.fds, r.sockets = countFDs("/proc", pids)
	return r, nil
}

// countFDs counts the open files and, among them, the sockets of the
// processes pids, as cAdvisor does. A process that exits meanwhile is
// skipped.
func countFDs(proc string, pids []uint64) (fds, sockets uint64) {
	for _, pid := range pids {
		dir := filepath.Join(proc, strconv.FormatUint(pid, 10), "fd")
		entries, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		fds += uint64(len(entries))
		for _, e := range entries {
			if target, err := os.Readlink(filepath.Join(dir, e.Name())); err == nil && strings.HasPrefix(target, "socket:") {
				sockets++
			}
		}
	}
	return fds, sockets
}

// statFS measures the filesystem holding dir and names it by the device
// mounted there (the deepest mount above dir), as cAdvisor does.
func statFS(dir string) (fsReading, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return fsReading{}, err
	}
	f := fsReading{
		limit:      st.Blocks * uint64(st.Bsize),
		inodes:     st.Files,
		inodesFree: st.Ffree,
		device:     dir,
	}
	mounts, err := mountinfo.GetMounts(mountinfo.ParentsFilter(dir))
	if err != nil {
		return f, nil
	}
	deepest := ""
	for _, m := range mounts {
		if len(m.Mountpoint) >= len(deepest) {
			deepest, f.device = m.Mountpoint, m.Source
		}
	}
	return f, nil
}
