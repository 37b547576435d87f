package sandbox

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"
)

// Berth before 2026-12 kept a sandbox pool on cgroup v1: pauses started
// ahead in cgroups under /berth-pool (idle in the cpu hierarchy, their
// shims in /berth-pool/shims), and moved into their pod's cgroup when a
// pod took one (Metadata.MovedCgroup). A node upgraded from it has the
// pool's leftovers removed once at start (upgrade.go), and the moved
// cgroups of the pods it still runs removed with them. This file holds
// the cgroup v1 side of that.

// legacyPoolCgroup is the old pool's cgroup parent.
const legacyPoolCgroup = "/berth-pool"

// cgroupV1Hierarchies lists the mountpoints of the cgroup v1 hierarchies
// (and, on a hybrid host, the unified one), or none on a cgroup v2 host,
// where the pool never ran.
func cgroupV1Hierarchies() ([]string, error) {
	mounts, err := mountinfo.GetMounts(func(i *mountinfo.Info) (skip, stop bool) {
		return i.FSType != "cgroup" && i.FSType != "cgroup2", false
	})
	if err != nil {
		return nil, err
	}
	var out []string
	v1 := false
	for _, mnt := range mounts {
		if mnt.Root != "/" {
			continue // a bind of a sub-cgroup, as inside a container
		}
		v1 = v1 || mnt.FSType == "cgroup"
		out = append(out, mnt.Mountpoint)
	}
	if !v1 {
		return nil, nil
	}
	return out, nil
}

// removeCgroup removes the cgroup path from every hierarchy once its last
// process has gone. A cgroup whose last process just exited may be busy
// for a moment: retried, as runc does.
func removeCgroup(hier []string, path string) error {
	var errs []error
	for _, mountpoint := range hier {
		dir := filepath.Join(mountpoint, path)
		var err error
		for wait := time.Millisecond; ; wait *= 2 {
			err = unix.Rmdir(dir)
			if !errors.Is(err, unix.EBUSY) || wait > 200*time.Millisecond {
				break
			}
			time.Sleep(wait)
		}
		if err != nil && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, fmt.Errorf("remove cgroup %s: %w", dir, err))
		}
	}
	return errors.Join(errs...)
}

// removeLegacyPoolCgroups removes the old pool's cgroups where they are
// empty, children first. Its cpu parent was idle: it is made normal first,
// so that shims still in it finish deleting their tasks at full speed.
func removeLegacyPoolCgroups(hier []string) error {
	var errs []error
	for _, mountpoint := range hier {
		dir := filepath.Join(mountpoint, legacyPoolCgroup)
		if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
			continue
		}
		if strings.Contains(mountpoint, "cpu") {
			_ = os.WriteFile(filepath.Join(dir, "cpu.idle"), []byte("0"), 0)
		}
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if e.IsDir() {
				if err := removeCgroup([]string{mountpoint}, filepath.Join(legacyPoolCgroup, e.Name())); err != nil {
					errs = append(errs, err)
				}
			}
		}
		if err := removeCgroup([]string{mountpoint}, legacyPoolCgroup); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
