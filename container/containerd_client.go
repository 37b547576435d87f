package container

import (
	"context"
	"fmt"
	"syscall"

	"github.com/containerd/containerd/api/services/tasks/v1"
	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/containers"
	"github.com/containerd/containerd/v2/core/mount"
	"github.com/containerd/containerd/v2/core/snapshots"
	"github.com/containerd/containerd/v2/pkg/cio"
	"github.com/containerd/errdefs/pkg/errgrpc"

	"github.com/berth-cri/berth/internal/task"
	"github.com/berth-cri/berth/sandbox"
)

// defaultSnapshotter holds images and writable layers when the
// configuration names none.
const defaultSnapshotter = "overlayfs"

// NewContainerd is containerd's client in the roles the lifecycle needs,
// with containers' layers in snapshotter ("": overlayfs). It is the one
// place where containers' tasks are created and deleted (internal/task).
// With upstreamTasks, tasks are created and deleted the containerd
// client's way instead of by internal/task's shortcut ([shortcuts]
// task_calls = false).
func NewContainerd(client *containerd.Client, snapshotter string, upstreamTasks bool) Containerd {
	if snapshotter == "" {
		snapshotter = defaultSnapshotter
	}
	return Containerd{
		Records: clientRecords{client},
		Tasks:   clientTasks{client: client, snapshotter: snapshotter, calls: task.Calls{Client: client, Upstream: upstreamTasks}},
		Snapshots: clientSnapshots{
			Snapshotter: client.SnapshotService(snapshotter),
			client:      client,
		},
	}
}

type clientRecords struct{ client *containerd.Client }

func (r clientRecords) Create(ctx context.Context, id string, opts ...containerd.NewContainerOpts) error {
	_, err := r.client.NewContainer(ctx, id, opts...)
	return err
}

func (r clientRecords) List(ctx context.Context) ([]containers.Container, error) {
	return r.client.ContainerService().List(ctx, fmt.Sprintf("labels.%q==%s", sandbox.LabelKind, KindContainer))
}

func (r clientRecords) Update(ctx context.Context, rec containers.Container, fieldpaths ...string) error {
	_, err := r.client.ContainerService().Update(ctx, rec, fieldpaths...)
	return err
}

func (r clientRecords) Delete(ctx context.Context, id string) error {
	return r.client.ContainerService().Delete(ctx, id)
}

type clientTasks struct {
	client      *containerd.Client
	snapshotter string
	calls       task.Calls
}

func (t clientTasks) Create(ctx context.Context, id string, rootfs []mount.Mount, ioCreate cio.Creator, restore ...containerd.NewTaskOpts) (Task, error) {
	if len(restore) > 0 {
		cont, err := t.client.LoadContainer(ctx, id)
		if err != nil {
			return nil, fmt.Errorf("load container: %w", err)
		}
		return cont.NewTask(ctx, ioCreate, restore...)
	}
	return t.calls.CreateByID(ctx, id, t.snapshotter, rootfs, ioCreate)
}

func (t clientTasks) Load(ctx context.Context, id string, ioAttach cio.Attach) (Task, error) {
	cont, err := t.client.LoadContainer(ctx, id)
	if err != nil {
		return nil, err
	}
	return cont.Task(ctx, ioAttach)
}

// Kill goes to the task service by ID, without loading the container and
// its task first (two round trips).
func (t clientTasks) Kill(ctx context.Context, id string, sig syscall.Signal, all bool) error {
	_, err := t.client.TaskService().Kill(ctx, &tasks.KillRequest{ContainerID: id, Signal: uint32(sig), All: all})
	return errgrpc.ToNative(err)
}

func (t clientTasks) Delete(ctx context.Context, id string) error {
	return t.calls.Delete(ctx, id)
}

type clientSnapshots struct {
	snapshots.Snapshotter
	client *containerd.Client
}

func (s clientSnapshots) EnsureLease(ctx context.Context, sandboxID string) error {
	return sandbox.EnsureLease(ctx, s.client.LeasesService(), sandboxID)
}
