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

// CreateOn creates the task of cont on rootfs mounts known already (as
// the snapshot's Prepare returned them), with the IO ioCreate makes, and
// returns the client's Task for it. The client's NewTask reads the
// container three times, its snapshot's mounts once and unpacks its spec
// to learn the snapshot and the task options; Berth knows the mounts, and
// sets no mount label and no task options (a checkpoint restore needs
// NewTask). The task is then read once, for the client's Task.
func CreateOn(ctx context.Context, client *containerd.Client, cont containerd.Container, mounts []mount.Mount, ioCreate cio.Creator) (containerd.Task, error) {
	id := cont.ID()
	tio, _, err := create(ctx, client, id, mounts, ioCreate)
	if err != nil {
		return nil, err
	}
	task, err := cont.Task(ctx, func(*cio.FIFOSet) (cio.IO, error) { return tio, nil })
	if err != nil {
		tio.Cancel()
		_ = tio.Close() // the error being returned is the one that matters
		// Not left for Remove to find: delete it now.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		return nil, fmt.Errorf("load the created task: %w (deleting it: %v)", err, Delete(cctx, client, id))
	}
	return task, nil
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
