package task

import (
	"context"
	"fmt"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/mount"
	"github.com/containerd/containerd/v2/pkg/cio"
)

// Calls creates and deletes the tasks of one containerd, by Berth's
// shortcut (CreateByID, CreateOn, Delete) or, with Upstream, the way the
// containerd client does (NewTask, and Task.Delete with WithProcessKill).
// Either way the task is the same: the container's rootfs, the IO
// ioCreate makes, and no task left behind by Delete. Upstream is the
// task_calls = false of berthd's [shortcuts] table.
type Calls struct {
	Client   *containerd.Client
	Upstream bool
}

// CreateOn creates the task of cont on rootfs mounts known already (a
// pause's, as its snapshot's Prepare returned them), in one call. The
// upstream path ignores them: NewTask reads the mounts of the snapshot the
// container names.
func (c Calls) CreateOn(ctx context.Context, cont containerd.Container, mounts []mount.Mount, ioCreate cio.Creator) (Task, error) {
	if c.Upstream {
		return cont.NewTask(ctx, ioCreate)
	}
	return CreateByID(ctx, c.Client, cont.ID(), mounts, ioCreate)
}

// Delete deletes the task of container id, if there is one, killing what
// still runs in it.
func (c Calls) Delete(ctx context.Context, id string) error {
	if c.Upstream {
		return DeleteUpstream(ctx, c.Client, id)
	}
	return Delete(ctx, c.Client, id)
}

// CreateByID creates the task of container id, whose rootfs is the
// snapshot under its own ID in snapshotter, on the mounts given (nil:
// asked of the snapshotter). The shortcut makes it from the container's ID
// alone: one call, two with the mounts to ask. The upstream path loads the
// container and calls NewTask.
func (c Calls) CreateByID(ctx context.Context, id, snapshotter string, mounts []mount.Mount, ioCreate cio.Creator) (Task, error) {
	if c.Upstream {
		cont, err := c.Client.LoadContainer(ctx, id)
		if err != nil {
			return nil, fmt.Errorf("load container: %w", err)
		}
		return cont.NewTask(ctx, ioCreate)
	}
	if mounts == nil {
		var err error
		if mounts, err = c.Client.SnapshotService(snapshotter).Mounts(ctx, id); err != nil {
			return nil, fmt.Errorf("rootfs mounts: %w", err)
		}
	}
	return CreateByID(ctx, c.Client, id, mounts, ioCreate)
}
