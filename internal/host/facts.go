package host

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
}
