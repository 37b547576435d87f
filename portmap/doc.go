// Package portmap owns the node's hostPort reservations: before CNI ADD,
// Berth refuses a hostPort that another Berth pod holds or that a process
// on the node is bound to, with a clear error, instead of letting the
// portmap plugin's DNAT rule silently take the traffic of a running
// service.
//
// The lead calls:
//
//	t := portmap.New()
//	err := t.Reserve(sandboxID, ports) // before CNI ADD; all or nothing
//	t.Release(sandboxID)               // after CNI DEL, or when RunPodSandbox fails
//	err = t.Restore(sandboxID, ports)  // at start, for every sandbox that may hold its ports
//
// Reserve's errors: errdefs.ErrAlreadyExists when another sandbox holds the
// port, errdefs.ErrFailedPrecondition when a process on the node is bound to
// it, errdefs.ErrInvalidArgument for a bad mapping.
//
// # Conflicts
//
// A reservation is (protocol, host IP, port). An empty or unspecified host
// IP (0.0.0.0, ::) means every address of the node, of both families, and
// conflicts with any reservation of the same protocol and port; two
// specific addresses conflict only when equal.
//
// # The host check
//
// Berth's own pods hold their ports with DNAT rules, not sockets, so they
// are tracked in memory. Processes on the node (including hostNetwork pods)
// are found by trying to bind the port, in berthd's (the node's) network
// namespace, and closing the socket at once. Binding was chosen over
// reading /proc/net/{tcp,udp}{,6} because the kernel then applies its own
// conflict rules, which a parser would have to re-implement: a wildcard
// bind against a specific one, an IPv6 dual-stack socket blocking IPv4, SO_REUSEADDR
// and SO_REUSEPORT; it covers SCTP with no extra parser; and its cost does
// not grow with the number of sockets on the node, where a /proc read
// walks them all (and /proc/self/net follows the main thread's namespace).
// TCP probes set SO_REUSEADDR so that connections in TIME_WAIT do not count.
//
// What the check cannot do, and why that is acceptable:
//   - It is a snapshot. A process that binds the port after Reserve gets it,
//     and the pod's DNAT rule takes the traffic. Closing that window means
//     holding a socket for the pod's life, as the kubelet's old hostport
//     manager did; Berth does not (yet).
//   - The probe holds the port for the microseconds of a bind and close; a
//     process binding at exactly that moment fails with EADDRINUSE.
//   - A TCP port used as the local port of an outgoing connection looks
//     busy: keep hostPorts out of the ephemeral range
//     (net.ipv4.ip_local_port_range).
//   - A host IP that is not on the node (EADDRNOTAVAIL), or a protocol the
//     kernel lacks (SCTP without its module), cannot be checked and is
//     allowed.
//
// Races between Berth's own pods are closed by the table's lock: check and
// insert are one step. The probe runs under that lock; it is a few
// syscalls, never a plugin or the network.
//
// This package does not install port forwarding (the CNI portmap plugin
// does) nor clean conntrack (package conntrack).
package portmap
