package sandbox

import (
	"context"
	"syscall"

	"github.com/containerd/containerd/api/services/tasks/v1"
	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/containers"
	"github.com/containerd/containerd/v2/core/leases"
	"github.com/containerd/containerd/v2/core/mount"
	"github.com/containerd/containerd/v2/core/sandbox"
	"github.com/containerd/containerd/v2/core/snapshots"
	"github.com/containerd/containerd/v2/pkg/cio"
	"github.com/containerd/errdefs/pkg/errgrpc"

	"github.com/berth-cri/berth/internal/task"
)

// Containerd is containerd as a Manager uses it, one small interface per
// kind of record; NewContainerd makes it of a *containerd.Client. Every
// field is required.
type Containerd struct {
	Containers ContainerRecords
	Snapshots  Snapshots
	Sandboxes  PodRecords
	Leases     Leases
	Tasks      Tasks
	Images     Images
}

// ContainerRecords are the containerd containers that record sandboxes:
// the pause container, or an infra-less pod's record (*containerd.Client
// and its ContainerService).
type ContainerRecords interface {
	NewContainer(ctx context.Context, id string, opts ...containerd.NewContainerOpts) (containerd.Container, error)
	// Containers lists the containers that match one of filters.
	Containers(ctx context.Context, filters ...string) ([]containerd.Container, error)
	// Update changes the fields of c that fieldpaths name.
	Update(ctx context.Context, c containers.Container, fieldpaths ...string) (containers.Container, error)
	// Delete deletes container id; NotFound if there is none.
	Delete(ctx context.Context, id string) error
}

// Snapshots are the pauses' rootfs snapshots, in the overlayfs
// snapshotter (snapshots.Snapshotter).
type Snapshots interface {
	Prepare(ctx context.Context, key, parent string, opts ...snapshots.Opt) ([]mount.Mount, error)
	// Remove removes the snapshot key; NotFound if there is none.
	Remove(ctx context.Context, key string) error
}

// PodRecords are containerd's sandbox records, one per pod (sandbox.Store;
// record.go says why Berth keeps them).
type PodRecords interface {
	Create(ctx context.Context, sb sandbox.Sandbox) (sandbox.Sandbox, error)
	List(ctx context.Context, filters ...string) ([]sandbox.Sandbox, error)
	Delete(ctx context.Context, id string) error
}

// Leases are the sandboxes' containerd leases (leases.Manager; lease.go).
type Leases interface {
	LeaseCreator
	Delete(ctx context.Context, l leases.Lease, opts ...leases.DeleteOpt) error
	List(ctx context.Context, filters ...string) ([]leases.Lease, error)
}

// LeaseCreator creates containerd leases (leases.Manager): EnsureLease
// needs no more.
type LeaseCreator interface {
	Create(ctx context.Context, opts ...leases.Opt) (leases.Lease, error)
}

// Tasks creates, signals and deletes pause tasks. In berthd they are the
// internal/task calls (clientTasks).
type Tasks interface {
	// Create creates the task of c on the rootfs mounts, its IO discarded.
	Create(ctx context.Context, c containerd.Container, rootfs []mount.Mount) (task.Task, error)
	// Kill sends sig to the task of container id through its shim (a runc
	// kill); NotFound if it has no task.
	Kill(ctx context.Context, id string, sig syscall.Signal) error
	// Delete deletes the task of container id, killing its processes if
	// they still run; a container without a task is success.
	Delete(ctx context.Context, id string) error
}

// Images finds the pause image (*containerd.Client).
type Images interface {
	GetImage(ctx context.Context, ref string) (containerd.Image, error)
}

// NewContainerd is the Containerd of client.
// With upstreamTasks, pause tasks are created and deleted the containerd
// client's way instead of by internal/task's shortcut ([shortcuts]
// task_calls = false).
func NewContainerd(client *containerd.Client, upstreamTasks bool) Containerd {
	return Containerd{
		Containers: clientContainers{client},
		Snapshots:  client.SnapshotService(snapshotter),
		Sandboxes:  client.SandboxStore(),
		Leases:     client.LeasesService(),
		Tasks:      clientTasks{task.Calls{Client: client, Upstream: upstreamTasks}},
		Images:     client,
	}
}

// clientContainers are ContainerRecords of a *containerd.Client.
type clientContainers struct{ client *containerd.Client }

func (c clientContainers) NewContainer(ctx context.Context, id string, opts ...containerd.NewContainerOpts) (containerd.Container, error) {
	return c.client.NewContainer(ctx, id, opts...)
}

func (c clientContainers) Containers(ctx context.Context, filters ...string) ([]containerd.Container, error) {
	return c.client.Containers(ctx, filters...)
}

func (c clientContainers) Update(ctx context.Context, cont containers.Container, fieldpaths ...string) (containers.Container, error) {
	return c.client.ContainerService().Update(ctx, cont, fieldpaths...)
}

func (c clientContainers) Delete(ctx context.Context, id string) error {
	return c.client.ContainerService().Delete(ctx, id)
}

// clientTasks are the Tasks of a *containerd.Client: the only place the
// sandbox manager calls internal/task.
type clientTasks struct{ calls task.Calls }

func (t clientTasks) Create(ctx context.Context, c containerd.Container, rootfs []mount.Mount) (task.Task, error) {
	return t.calls.CreateOn(ctx, c, rootfs, cio.NullIO)
}

func (t clientTasks) Kill(ctx context.Context, id string, sig syscall.Signal) error {
	_, err := t.calls.Client.TaskService().Kill(ctx, &tasks.KillRequest{ContainerID: id, Signal: uint32(sig)})
	return errgrpc.ToNative(err)
}

func (t clientTasks) Delete(ctx context.Context, id string) error {
	return t.calls.Delete(ctx, id)
}
