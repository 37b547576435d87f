// Package netns owns the pinned network namespace of a pod sandbox: a fresh
// network namespace kept alive by a bind mount of its nsfs file at
// <dir>/<sandboxID>, so that the pod's network outlives its pause process
// and can always be torn down (containerd/cri#43 is why: without a pin, a
// dead pause task made CNI DEL impossible and leaked IPs and veths).
//
// The lead calls, in a sandbox's life:
//
//	path, err := netns.Create(dir, sandboxID) // before CNI ADD
//	err = netns.BringUpLoopback(path)         // when no CNI loopback plugin runs
//	ok, err := netns.Exists(path)             // status, recovery
//	err = netns.Remove(path)                  // after CNI DEL; missing is success
//	ids, err := netns.List(dir)               // garbage collection at start
//
// Create never lets a thread that sits in the new namespace go back to the Go
// scheduler: the namespace is made on a dedicated, locked OS thread that Go
// destroys when its goroutine returns. Code that must run inside a sandbox's
// namespace uses ns.WithNetNSPath (github.com/containernetworking/plugins/pkg/ns)
// or netlink.NewHandleAt, never a bare setns on a shared goroutine.
//
// This package does not configure interfaces other than lo, does not call
// CNI and keeps no state: the path is the whole identity of a namespace, and
// the caller records it.
package netns
