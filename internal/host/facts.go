package host

import (
	"strconv"
	"strings"
)

// Facts are what Berth knows of its node: read once at berthd's start
// (Detect) and handed to every part that depends on them, so that the
// cgroup version, say, is decided in one place and never read again per
// request. None of them changes while berthd runs; a node that changes
// (a reboot into another cgroup mode) restarts berthd.
type Facts struct {
	// CgroupV2 is set when /sys/fs/cgroup is the unified hierarchy.
	CgroupV2 bool
	// SystemdIsInit is set when systemd runs as PID 1 (it decides the
	// cgroup driver "auto" resolves to).
	SystemdIsInit bool
	// Swap is set when memory+swap limits can be set: always on cgroup
	// v2, on v1 when the memsw files exist (swap accounting on).
	Swap bool
	// Hugetlb is set when the hugetlb controller exists. kubelet sets
	// hugepage limits on every container; without the controller runc
	// refuses them, so they are dropped, as containerd does by default
	// (tolerate_missing_hugetlb_controller).
	Hugetlb bool
	// CgroupSuperblockFlags are the flags of the host's cgroup2 mount
	// (nsdelegate, memory_recursiveprot) that a cgroup2 mount made in the
	// host's cgroup namespace must repeat: it shares the one superblock,
	// and a mount without them would turn them off for the whole node
	// (containerd #12952).
	CgroupSuperblockFlags []string
	// AppArmor is set when the kernel has AppArmor enabled.
	AppArmor bool
	// SELinuxEnforcing is set when SELinux is enabled and enforcing.
	SELinuxEnforcing bool
	// KernelRelease is the kernel's release (uname -r), and Kernel its
	// major and minor version; zero when the release does not parse.
	KernelRelease string
	Kernel        [2]int
}

// KernelAtLeast says whether the kernel is version v (major, minor) or
// later.
func (f Facts) KernelAtLeast(v [2]int) bool {
	return f.Kernel[0] > v[0] || (f.Kernel[0] == v[0] && f.Kernel[1] >= v[1])
}

// idmappedOverlayKernel is the first kernel whose overlayfs takes idmapped
// lower layers, which a pod's user namespace needs for its rootfs.
var idmappedOverlayKernel = [2]int{5, 19}

// UserNamespacesSupported says whether pods can get user namespaces of
// their own here: the kernel idmaps overlayfs layers (containerd's overlayfs
// snapshotter then mounts them so) and bind mounts (runc does those).
func (f Facts) UserNamespacesSupported() bool { return f.KernelAtLeast(idmappedOverlayKernel) }

// RecursiveReadOnlySupported says whether the kernel can make a mount
// read-only with all its submounts: mount_setattr (Linux 5.12), which
// runtimes need for the "rro" mount option.
func (f Facts) RecursiveReadOnlySupported() bool { return f.KernelAtLeast([2]int{5, 12}) }

// parseKernel reads the major and minor version of a kernel release.
func parseKernel(release string) (major, minor int, ok bool) {
	parts := strings.SplitN(release, ".", 3)
	if len(parts) < 2 {
		return 0, 0, false
	}
	major, err1 := strconv.Atoi(parts[0])
	minorDigits := strings.TrimRightFunc(parts[1], func(r rune) bool { return r < '0' || r > '9' })
	minor, err2 := strconv.Atoi(minorDigits)
	return major, minor, err1 == nil && err2 == nil
}
