package container

import (
	"context"
	"slices"
	"syscall"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/containers"
	"github.com/containerd/containerd/v2/core/mount"
	"github.com/containerd/containerd/v2/core/snapshots"
	"github.com/containerd/containerd/v2/pkg/cio"
	"github.com/containerd/errdefs"

	"github.com/berth-cri/berth/internal/task"
)

// What the lifecycle (Create, Start, the exit monitor, Stop, Remove,
// Recover) needs of containerd, in three roles, so that it can be tested
// against fakes (containerd_fake_test.go) without root or a daemon.
// NewContainerd gives containerd's client in these roles. Exec, Attach,
// checkpoint, resource updates and the OOM event stream still take
// Config.Client: each uses a wide part of the client's container and task
// (CloseIO, Exec, Pause, Checkpoint, Update, Subscribe) that an interface
// here would only copy.

// Records keeps the containers' records in containerd's metadata store,
// the durable record Recover rebuilds the store from.
type Records interface {
	// Create creates the record of container id, as the client's
	// NewContainer builds it from opts.
	Create(ctx context.Context, id string, opts ...containerd.NewContainerOpts) error
	// List returns the records of every container Berth created (those
	// with its kind label).
	List(ctx context.Context) ([]containers.Container, error)
	// Update writes the fields of rec that fieldpaths name.
	Update(ctx context.Context, rec containers.Container, fieldpaths ...string) error
	// Delete deletes the record of container id; NotFound when it has
	// none.
	Delete(ctx context.Context, id string) error
}

// Tasks creates, finds, signals and deletes containers' tasks: their
// processes, run by the pod's shim.
type Tasks interface {
	// Create creates the task of container id on its rootfs mounts (nil:
	// the snapshot's, asked of containerd), with the IO ioCreate makes. A
	// restored container's checkpoint options (restore) take the client's
	// NewTask; any other the shorter internal/task.CreateByID.
	Create(ctx context.Context, id string, rootfs []mount.Mount, ioCreate cio.Creator, restore ...containerd.NewTaskOpts) (Task, error)
	// Load returns the task of container id with its IO attached by
	// ioAttach (nil: none); NotFound when the container has no task.
	Load(ctx context.Context, id string, ioAttach cio.Attach) (Task, error)
	// Kill sends sig to the task's process; with all, to every process in
	// its cgroup. NotFound or ESRCH when there is nothing to signal.
	Kill(ctx context.Context, id string, sig syscall.Signal, all bool) error
	// Delete deletes the task of container id if it has one, killing what
	// still runs in it.
	Delete(ctx context.Context, id string) error
}

// Task is a container's task as Tasks returns it: internal/task's, or
// the client's containerd.Task.
type Task = task.Task

// Snapshots are the configured snapshotter's snapshots: containers'
// writable layers and image volumes' views, made under their sandbox's
// lease. The OCI spec's user options read the image's /etc/passwd and
// /etc/group through it (Mounts).
type Snapshots interface {
	snapshots.Snapshotter
	// EnsureLease creates the lease of sandbox id if it is missing.
	EnsureLease(ctx context.Context, sandboxID string) error
}

// Containerd is containerd in the roles the lifecycle needs of it.
type Containerd struct {
	Records   Records
	Tasks     Tasks
	Snapshots Snapshots
}

// snapshotsClient gives the OCI spec's options (oci.Client) the
// configured snapshotter, whichever name they ask for: a container's
// record names that one. The options that read the image's /etc/passwd
// and /etc/group ask it for the rootfs's mounts; those of snapshot key
// are the mounts Prepare returned, answered without another call to
// containerd.
type snapshotsClient struct {
	s      Snapshots
	key    string
	mounts []mount.Mount
}

func (c snapshotsClient) SnapshotService(string) snapshots.Snapshotter {
	if c.mounts == nil {
		return c.s
	}
	return preparedSnapshots{Snapshots: c.s, key: c.key, mounts: c.mounts}
}

// preparedSnapshots answers Mounts of the snapshot just prepared from the
// mounts Prepare returned.
type preparedSnapshots struct {
	Snapshots
	key    string
	mounts []mount.Mount
}

func (p preparedSnapshots) Mounts(ctx context.Context, key string) ([]mount.Mount, error) {
	if key == p.key {
		return slices.Clone(p.mounts), nil
	}
	return p.Snapshots.Mounts(ctx, key)
}

// deleteRecord deletes the record of a container whose creation failed,
// if containerd made it after all.
func (m *Manager) deleteRecord(ctx context.Context, id string) {
	ctx, cancel := cleanupContext(ctx)
	defer cancel()
	if err := m.cfg.Records.Delete(ctx, id); err != nil && !errdefs.IsNotFound(err) {
		m.log.Warn("deleting the record of a failed CreateContainer", "container", id, "error", err)
	}
}
