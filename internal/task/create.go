package task

import (
	"context"
	"fmt"
	"time"

	"github.com/containerd/containerd/api/services/tasks/v1"
	"github.com/containerd/containerd/api/types"
	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/mount"
	"github.com/containerd/containerd/v2/pkg/cio"
	"github.com/containerd/errdefs/pkg/errgrpc"
)

// Create creates the task of cont, whose rootfs is the snapshot under its
// own ID in snapshotter, with the IO ioCreate makes. The client's NewTask
// reads the container three times and unpacks its spec once to learn the
// snapshot and the task options; Berth knows the snapshot, and sets no
// mount label and no task options (a checkpoint restore needs NewTask).
// The task is then read once, for its PID and the client's Task.
func Create(ctx context.Context, client *containerd.Client, cont containerd.Container, snapshotter string, ioCreate cio.Creator) (containerd.Task, error) {
	mounts, err := client.SnapshotService(snapshotter).Mounts(ctx, cont.ID())
	if err != nil {
		return nil, fmt.Errorf("rootfs mounts: %w", err)
	}
	return CreateOn(ctx, client, cont, mounts, ioCreate)
}

// CreateOn is Create with the rootfs mounts known already, as the
// snapshot's Prepare returned them: one round trip less.
func CreateOn(ctx context.Context, client *containerd.Client, cont containerd.Container, mounts []mount.Mount, ioCreate cio.Creator) (_ containerd.Task, retErr error) {
	id := cont.ID()
	tio, err := ioCreate(id)
	if err != nil {
		return nil, err
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
	if _, err := client.TaskService().Create(ctx, req); err != nil {
		return nil, errgrpc.ToNative(err)
	}
	task, err := cont.Task(ctx, func(*cio.FIFOSet) (cio.IO, error) { return tio, nil })
	if err != nil {
		// Not left for Remove to find: delete it now.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		return nil, fmt.Errorf("load the created task: %w (deleting it: %v)", err, Delete(cctx, client, id))
	}
	return task, nil
}
