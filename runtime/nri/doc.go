// Package nri is Berth's side of the Node Resource Interface
// (github.com/containerd/nri): it serves NRI's socket, starts configured
// plugins, synchronises every plugin that connects with the pods and
// containers that exist, relays each sandbox's and container's lifecycle to
// the plugins, applies the adjustments they make to a container's OCI spec
// at creation, and the updates and evictions they ask for.
//
// The sandbox and container managers call it through the small NRI
// interfaces they declare (sandbox.NRI, container.NRI), so neither imports
// this package. It does not decide anything about pods or containers
// itself; it tells plugins each event once, in order, and never while a
// plugin that connects is being synchronised (see BlockSync).
package nri
