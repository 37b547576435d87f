// Package container owns the containers of pod sandboxes: their state (an
// in-memory store with a name registrar), their OCI spec built from the CRI
// config, the image config and the sandbox, their lifecycle in containerd
// (create, start, exit monitoring, stop, remove), the CRI log files their
// output goes to, resource updates and ExecSync, and their checkpoint and
// restore through CRIU (the archive format is package runtime/checkpoint's;
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
package container
