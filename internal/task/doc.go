// Package task creates and deletes containerd tasks the way Berth needs for
// its containers and pause containers, in fewer round trips than the
// containerd client's NewTask and Task.Delete.
//
// Create takes three calls where the client's NewTask takes six: Berth
// knows the rootfs snapshot, and sets no mount label and no task options
// (a checkpoint restore still goes through NewTask). Delete removes a task
// whose process has exited in one call, and takes the long way (load, kill
// everything, delete) only when the process still runs.
//
// Both speak the task service's API, which containerd keeps stable; the
// shortcut is listed, with its contract test, in docs/architecture.md.
package task
