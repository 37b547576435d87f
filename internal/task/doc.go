// Package task creates and deletes the containerd tasks of Berth's
// containers and pauses, in fewer round trips than the containerd
// client's NewTask and Task.Delete.
//
// Create takes three calls where NewTask takes six. Berth knows the rootfs
// snapshot, and sets no mount label and no task options; a checkpoint
// restore needs options, and goes through NewTask. CreateOn saves one more
// call when the caller has the rootfs mounts already.
//
// Delete removes a task whose process has exited in one call. It takes the
// client's long way (load, kill everything, delete: DeleteUpstream) only
// when that call fails, as it does while the process runs.
//
// Both are a shortcut: they rely on how containerd's task service behaves,
// not only on its API. docs/architecture.md lists what they rely on and
// the contract test that fails if containerd changes it. Calls holds the
// choice: with Upstream (berthd's [shortcuts] task_calls = false) it takes
// the client's NewTask and Task.Delete instead.
package task
