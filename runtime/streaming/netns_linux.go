package streaming

import "github.com/containernetworking/plugins/pkg/ns"

// inNetNS runs fn on a goroutine locked to its thread in the network
// namespace at path. A socket made there stays in that namespace after the
// thread returns to the host's.
func inNetNS(path string, fn func() error) error {
	return ns.WithNetNSPath(path, func(ns.NetNS) error { return fn() })
}
