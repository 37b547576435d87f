// Package host owns what berthd checks and tunes on the node before it
// serves: root, kernel version, overlayfs, cgroup mounts and required
// binaries; its own OOM score and thread limit; which resolv.conf pods get;
// the cgroup driver; and goroutine stack dumps on SIGUSR1. It changes
// nothing outside berthd's own process except files berthd is given.
package host
