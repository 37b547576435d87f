// Package host owns what berthd learns of, checks and tunes on the node
// before it serves.
//
// Facts are the node's facts (kernel version, cgroup version and
// controllers, systemd as init, AppArmor, SELinux), read once at start by
// Detect and handed to every part that depends on them. Nothing reads them
// again per request. Check verifies, from the Facts and the binaries
// berthd needs, that the node can run Berth, and names everything missing
// at once. The package also tunes berthd's own OOM score and thread limit,
// picks the resolv.conf pods get, and dumps goroutine stacks on SIGUSR1.
//
// It changes nothing outside berthd's own process except files berthd is
// given, and it decides nothing from the facts: the cgroup driver, say, is
// internal/cgroup's choice, made once by cmd/berthd/app.
package host
