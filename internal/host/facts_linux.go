package host

import (
	"os"
	"slices"
	"strings"

	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"
)

// Detect reads the node's facts.
func Detect() Facts {
	f := Facts{SystemdIsInit: SystemdIsInit()}
	var u unix.Utsname
	if err := unix.Uname(&u); err == nil {
		f.KernelRelease = unix.ByteSliceToString(u.Release[:])
		if major, minor, ok := parseKernel(f.KernelRelease); ok {
			f.Kernel = [2]int{major, minor}
		}
	}
	if data, err := os.ReadFile("/sys/module/apparmor/parameters/enabled"); err == nil {
		f.AppArmor = strings.TrimSpace(string(data)) == "Y"
	}
	if data, err := os.ReadFile("/sys/fs/selinux/enforce"); err == nil {
		f.SELinuxEnforcing = strings.TrimSpace(string(data)) == "1"
	}
	if controllers, err := os.ReadFile("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		f.CgroupV2, f.Swap = true, true
		f.Hugetlb = slices.Contains(strings.Fields(string(controllers)), "hugetlb")
		if mounts, err := mountinfo.GetMounts(mountinfo.SingleEntryFilter("/sys/fs/cgroup")); err == nil && len(mounts) > 0 {
			f.CgroupSuperblockFlags = superblockFlags(mounts[len(mounts)-1].VFSOptions)
		}
		return f
	}
	if _, err := os.Stat("/sys/fs/cgroup/hugetlb"); err == nil {
		f.Hugetlb = true
	}
	if _, err := os.Stat("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes"); err == nil {
		f.Swap = true
	}
	return f
}

// superblockFlags picks, from a cgroup2 mount's superblock options, those
// a second mount of it must repeat.
func superblockFlags(vfsOptions string) []string {
	var out []string
	for _, opt := range strings.Split(vfsOptions, ",") {
		if opt == "nsdelegate" || opt == "memory_recursiveprot" {
			out = append(out, opt)
		}
	}
	return out
}
