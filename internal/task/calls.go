package task

import (
	"context"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/mount"
	"github.com/containerd/containerd/v2/pkg/cio"
)

// Calls creates and deletes the tasks of one containerd, by Berth's
// shortcut (Create, CreateOn, Delete) or, with Upstream, the way the
// containerd client does (NewTask, and Task.Delete with WithProcessKill).
// Either way the task is the same: the container's rootfs, the IO
// ioCreate makes, and no task left behind by Delete. Upstream is the
// task_calls = false of berthd's [shortcuts] table.
type Calls struct {
	Client   *containerd.Client
	Upstream bool
}

// Create creates the task of cont, whose rootfs is the snapshot under its
// own ID in snapshotter.
func (c Calls) Create(ctx context.Context, cont containerd.Container, snapshotter string, ioCreate cio.Creator) (containerd.Task, error) {
	if c.Upstream {
		return cont.NewTask(ctx, ioCreate)
	}
	return Create(ctx, c.Client, cont, snapshotter, ioCreate)
}

// CreateOn creates the task of cont on rootfs mounts known already. The
// upstream path ignores them: NewTask reads the mounts of the snapshot
// the container names.
func (c Calls) CreateOn(ctx context.Context, cont containerd.Container, mounts []mount.Mount, ioCreate cio.Creator) (containerd.Task, error) {
	if c.Upstream {
		return cont.NewTask(ctx, ioCreate)
	}
	return CreateOn(ctx, c.Client, cont, mounts, ioCreate)
}

// Delete deletes the task of container id, if there is one, killing what
// still runs in it.
func (c Calls) Delete(ctx context.Context, id string) error {
	if c.Upstream {
		return DeleteUpstream(ctx, c.Client, id)
	}
	return Delete(ctx, c.Client, id)
}
