package task

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/containerd/containerd/api/services/tasks/v1"
	"github.com/containerd/containerd/api/types"
	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/mount"
	"github.com/containerd/containerd/v2/pkg/cio"
	"github.com/containerd/containerd/v2/pkg/protobuf"
	"github.com/containerd/errdefs/pkg/errgrpc"
)

// Task is what Berth does with a container's or a pause's task: the part
// of the client's containerd.Task that a *Created serves by ID.
type Task interface {
	ID() string
	Pid() uint32
	Start(ctx context.Context) error
	// Wait returns a channel that receives the process's exit.
	Wait(ctx context.Context) (<-chan containerd.ExitStatus, error)
	Delete(ctx context.Context, opts ...containerd.ProcessDeleteOpts) (*containerd.ExitStatus, error)
	Status(ctx context.Context) (containerd.Status, error)
	// IO is the task's IO, nil when none was attached.
	IO() cio.IO
}

// Created is a task CreateByID made. It calls containerd's task service by
// the container's ID, as the client's task does, but is made from the
// Create call's answer: the client's Container.Task would read the task
// back first (a round trip), and NewTask would read the container.
type Created struct {
	client *containerd.Client
	id     string
	pid    uint32
	io     cio.IO
}

var _ Task = (*Created)(nil)

// CreateByID creates the task of container id on rootfs mounts known
// already (the snapshot's Prepare or Mounts answer), with the IO ioCreate
// makes: one call to containerd.
func CreateByID(ctx context.Context, client *containerd.Client, id string, mounts []mount.Mount, ioCreate cio.Creator) (*Created, error) {
	tio, pid, err := create(ctx, client, id, mounts, ioCreate)
	if err != nil {
		return nil, err
	}
	return &Created{client: client, id: id, pid: pid, io: tio}, nil
}

// ID is the container's, and the task's.
func (t *Created) ID() string { return t.id }

// Pid is the task's process: runc's init until Start, then the
// container's process (the same PID).
func (t *Created) Pid() uint32 { return t.pid }

// IO is the IO the task was created with.
func (t *Created) IO() cio.IO { return t.io }

// Start starts the process; a failed start releases the IO, as the
// client's Task.Start does.
func (t *Created) Start(ctx context.Context) error {
	r, err := t.client.TaskService().Start(ctx, &tasks.StartRequest{ContainerID: t.id})
	if err != nil {
		t.io.Cancel()
		_ = t.io.Close() // the start's error is the one that matters
		return errgrpc.ToNative(err)
	}
	t.pid = r.Pid
	return nil
}

// Wait returns a channel that receives the process's exit, from one
// Wait call on ctx.
func (t *Created) Wait(ctx context.Context) (<-chan containerd.ExitStatus, error) {
	c := make(chan containerd.ExitStatus, 1)
	go func() {
		defer close(c)
		r, err := t.client.TaskService().Wait(ctx, &tasks.WaitRequest{ContainerID: t.id})
		if err != nil {
			c <- *containerd.NewExitStatus(containerd.UnknownExitStatus, time.Time{}, err)
			return
		}
		c <- *containerd.NewExitStatus(r.ExitStatus, protobuf.FromTimestamp(r.ExitedAt), nil)
	}()
	return c, nil
}

// Status reads the task's state.
func (t *Created) Status(ctx context.Context) (containerd.Status, error) {
	r, err := t.client.TaskService().Get(ctx, &tasks.GetRequest{ContainerID: t.id})
	if err != nil {
		return containerd.Status{}, errgrpc.ToNative(err)
	}
	return containerd.Status{
		Status:     containerd.ProcessStatus(strings.ToLower(r.Process.Status.String())),
		ExitStatus: r.Process.ExitStatus,
		ExitTime:   protobuf.FromTimestamp(r.Process.ExitedAt),
	}, nil
}

// Delete deletes the task the client's way (its options, such as
// WithProcessKill, run against it), with this task's IO attached, so the
// IO is released as the client releases it. Berth deletes a task this way
// only when a start fails; an exited container's task goes by Delete.
func (t *Created) Delete(ctx context.Context, opts ...containerd.ProcessDeleteOpts) (*containerd.ExitStatus, error) {
	cont, err := t.client.LoadContainer(ctx, t.id)
	if err != nil {
		return nil, fmt.Errorf("load container: %w", err)
	}
	tk, err := cont.Task(ctx, func(*cio.FIFOSet) (cio.IO, error) { return t.io, nil })
	if err != nil {
		return nil, err
	}
	return tk.Delete(ctx, opts...)
}

// create makes the IO and creates the task of container id on mounts, in
// one call to containerd; it returns the IO and the task's PID.
func create(ctx context.Context, client *containerd.Client, id string, mounts []mount.Mount, ioCreate cio.Creator) (_ cio.IO, pid uint32, retErr error) {
	tio, err := ioCreate(id)
	if err != nil {
		return nil, 0, err
	}
	defer func() {
		if retErr != nil {
			tio.Cancel()
			_ = tio.Close() // the error being returned is the one that matters
		}
	}()
	cfg := tio.Config()
	req := &tasks.CreateTaskRequest{ContainerID: id, Terminal: cfg.Terminal, Stdin: cfg.Stdin, Stdout: cfg.Stdout, Stderr: cfg.Stderr}
	for _, m := range mounts {
		req.Rootfs = append(req.Rootfs, &types.Mount{Type: m.Type, Source: m.Source, Target: m.Target, Options: m.Options})
	}
	r, err := client.TaskService().Create(ctx, req)
	if err != nil {
		return nil, 0, errgrpc.ToNative(err)
	}
	return tio, r.GetPid(), nil
}
