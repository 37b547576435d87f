// Package conntrack purges a torn-down pod's connection tracking entries,
// so that traffic does not keep following a dead pod's NAT state.
//
// The pain it removes: a UDP client that keeps sending to a hostPort (or to
// a pod IP) keeps refreshing a conntrack entry that still DNATs to the old
// pod, long after the pod and its rules are gone; the next pod on that port
// or IP never sees the traffic (kubernetes/kubernetes#59033, #66651). The
// portmap plugin flushes UDP hostPort entries on ADD and, since v1.10.0,
// on DEL; Berth purges after teardown as well, by pod IP and by UDP
// hostPort, so it does not depend on the plugins in the config.
//
// The lead calls, after CNI DEL of a sandbox:
//
//	c, err := conntrack.New()
//	defer c.Close()
//	err = c.Purge(podIPs, []conntrack.HostPort{{Port: 5353}})
//
// A purge is a few filtered flushes: the kernel (6.12 and later) walks its
// table and deletes what a filter matches, about 0.4 ms each here. Older
// kernels refuse them, and a purge of many pods would need too many: then
// it dumps the table once per family and deletes what matches, about
// 12 ms a dump with 262144 buckets however empty the table is.
//
// berthd purges through a Purger, which runs purges in the background and
// merges those asked for while one runs: a pod's teardown need not wait
// for them.
//
// Errors are for the log: a failed purge never means the teardown failed,
// and the entries time out by themselves eventually.
//
// Ordering: purge right after DEL. DEL releases the pod IP, and a new pod
// given the same IP before the purge would lose its first flows; IPAM
// plugins such as host-local hand out addresses round-robin, which keeps
// that window to pathological cases.
//
// This package only deletes entries; it does not add rules or read the
// table for anything else.
package conntrack
