package task

import (
	"context"
	"fmt"

	"github.com/containerd/containerd/api/services/tasks/v1"
	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/errdefs"
	"github.com/containerd/errdefs/pkg/errgrpc"
)

// Delete deletes the task of container id, if there is one. A task whose
// process has exited goes in one call: the client's Delete with
// WithProcessKill would first read its status, wait on it and send SIGKILL
// to every process (a runc run of its own), none of which an exited task
// needs, since runc's delete of a stopped container kills what its cgroup
// still holds. Any other answer (the process still runs, or the call
// failed) is retried the long way: load the task, kill everything in it,
// delete it.
func Delete(ctx context.Context, client *containerd.Client, id string) error {
	_, err := client.TaskService().Delete(ctx, &tasks.DeleteTaskRequest{ContainerID: id})
	err = errgrpc.ToNative(err)
	if err == nil || errdefs.IsNotFound(err) {
		return nil
	}
	return DeleteUpstream(ctx, client, id)
}

// DeleteUpstream deletes the task of container id, if there is one, the
// way the containerd client does: load the container and its task, kill
// every process in it, delete it. It is Delete's long way, and the whole
// of it when the task_calls shortcut is off.
func DeleteUpstream(ctx context.Context, client *containerd.Client, id string) error {
	cont, err := client.LoadContainer(ctx, id)
	if errdefs.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("load container: %w", err)
	}
	task, err := cont.Task(ctx, nil)
	if errdefs.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("load task: %w", err)
	}
	if _, err := task.Delete(ctx, containerd.WithProcessKill); err != nil && !errdefs.IsNotFound(err) {
		return fmt.Errorf("delete task: %w", err)
	}
	return nil
}
