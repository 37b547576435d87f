// Package sandbox owns pod sandboxes: their state, the name registrar, and
// their lifecycle: a pinned network namespace, a CNI attachment, the hostPort
// reservation and a pause task in containerd, set up by Run and undone by
// Stop and Remove without leaking any of them.
//
// The CRI edge (cri/) validates requests and calls Manager; this package
// answers with errdefs error classes. Containers inside a sandbox are not
// owned here: Manager asks a ContainerStopper to stop and remove them.
//
// containerd is the durable record: the pause container carries the
// sandbox's Metadata as an extension and its network result as another, so
// berthd can rebuild this package's in-memory Store after a restart.
package sandbox
