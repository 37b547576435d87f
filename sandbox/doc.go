// Package sandbox owns pod sandboxes: their state, the name registrar, and
// their lifecycle: the pod's pinned namespaces, its files and /dev/shm, a
// CNI attachment, the hostPort reservation and, for a pod whose containers
// share a PID namespace, a pause task in containerd; set up by Run and
// undone by Stop and Remove without leaking any of them.
//
// Two kinds of pod, one path. An infra-less pod (its containers do not
// share a PID namespace: kubelet's pods without shareProcessNamespace) has
// no pause: Berth makes its network, IPC and UTS namespaces and pins them
// (netns.CreatePod), and its containers join them. A pod with
// shareProcessNamespace has a pause as PID 1 of the PID namespace its
// containers share; the pause joins the same pinned namespaces. Run's
// steps are the same for both (run.go): prepare, then network and infra
// side by side, then commit; only the infra step differs.
//
// The CRI edge (cri/) validates requests and calls Manager; this package
// answers with errdefs error classes. Containers inside a sandbox are not
// owned here: Manager asks a Containers implementation to stop and remove
// them.
//
// containerd is the durable record: a container per sandbox (the pause
// container, or an infra-less pod's record, which has no rootfs and no
// task) carries the sandbox's Metadata as an extension and its network
// result as another, so berthd can rebuild this package's in-memory Store
// after a restart. What does not outlive a reboot (the pins, /dev/shm, an
// infra-less pod's ready mark) is under the state directory (state.go).
//
// A sandbox is its Metadata, fixed once Run has stored it, and a Status
// changed only through Set and Update (sandbox.go draws its state
// machine). Stop and Remove of one sandbox are serialised; no lock is held
// across a call to containerd or CNI for other sandboxes.
//
// Three of Berth's shortcuts are taken here (docs/architecture.md): the
// pause task is created and deleted through internal/task, killed through
// a pidfd (internal/procsig), and given a containerd sandbox record so
// that containers' tasks find the pod's shim without running the shim
// binary (record.go). NewContainerd's upstreamTasks and Config's
// UpstreamSignals turn the first two off. The record is always made; with the third shortcut off,
// containers do not name it (container.Config.NoSandboxShims).
//
// The Manager reaches containerd only through Config.Containerd
// (containerd.go) and does its root work (namespaces, pins, mounts) only
// through Config.Node (node.go), so its lifecycle is tested without root
// against the fakes beside them. An infra-less pod recovers READY only
// while its ready mark and all its namespace pins are in place.
package sandbox
