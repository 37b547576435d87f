// Package task creates and deletes the containerd tasks of Berth's
// containers and pauses, in fewer round trips than the containerd
// client's NewTask and Task.Delete.
//
// NewTask reads the container three times and the snapshot's mounts once
// before it creates the task. Berth knows the rootfs snapshot, and sets no
// mount label and no task options (a checkpoint restore needs options, and
// goes through NewTask). CreateByID creates a container's or a pause's
// task in one call when the mounts are known (the snapshot's Prepare
// returned them), two when it asks them, and drives it by ID afterwards
// (Created), without reading the task back as the client does.
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
