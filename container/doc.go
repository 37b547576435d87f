// Package container owns the containers of pod sandboxes: their state (an
// in-memory store with a name registrar), their OCI spec built from the CRI
// config, the image config and the sandbox, their lifecycle in containerd
// (create, start, exit monitoring, stop, remove), the CRI log files their
// output goes to, resource updates and ExecSync, and their checkpoint and
// restore through CRIU (the archive format is package internal/checkpoint's;
// docs/checkpoint.md says why CRIU cannot work on Linux 6.13+ with Debian
// 12's CRIU).
//
// It does not speak CRI's gRPC (package cri converts), does not own pod
// sandboxes (package sandbox does; this package implements its Containers
// interface so sandbox Stop and Remove reach the containers) and does not
// pull images (it asks an Images for what is already local).
//
// containerd is the durable record: every container carries its Metadata
// as an extension and a kind label, as sandboxes do, so the store can be
// rebuilt after a restart.
//
// A container is its Metadata, fixed once Create has stored it, and a
// Status changed only through Set and Update (container.go draws its
// state machine). An exit is recorded once, with its code and reason, by
// the container's monitor; Stop and Remove wait for that record rather
// than read the task again.
//
// Three of Berth's shortcuts are taken here (docs/architecture.md): tasks
// are created and deleted through internal/task, stop signals go through a
// pidfd (internal/procsig) when one process is to be signalled, and a
// container of a pod with a pause names the pod's containerd sandbox
// record so its task joins the pod's shim without the shim binary running.
// NewContainerd's upstreamTasks and Config's UpstreamSignals and
// NoSandboxShims turn them off.
//
// The lifecycle (Create, Start, the exit monitor, Stop, Remove, Recover)
// reaches containerd only through Records, Tasks and Snapshots
// (containerd.go); NewContainerd is the production adapter over the
// client and the one place that calls internal/task, and the lifecycle is
// tested without root against the fake beside it. Exec, attach,
// checkpoint, resource updates and OOM events still use the client.
package container
