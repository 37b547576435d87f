package container

import (
	"context"
	"fmt"

	"github.com/containerd/containerd/api/services/tasks/v1"
	"github.com/containerd/containerd/api/types"
	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/cio"
	"github.com/containerd/errdefs/pkg/errgrpc"

	"github.com/berth-cri/berth/internal/taskdel"
)

// newTask creates the task of container id with the IO ioCreate makes. It
// takes three calls to containerd where the client's NewTask takes six:
// that one reads the container three times and unpacks its spec once, to
// learn what Berth already knows (the rootfs snapshot is the container's
// own, under its ID; Berth sets no mount label and no task options). A
// restored container goes through the client's NewTask, which carries the
// checkpoint options.
func (m *Manager) newTask(ctx context.Context, cont containerd.Container, ioCreate cio.Creator) (_ containerd.Task, retErr error) {
	if opts := m.restoreTaskOpts(cont.ID()); len(opts) > 0 {
		return cont.NewTask(ctx, ioCreate, opts...)
	}
	mounts, err := m.cfg.Client.SnapshotService(m.cfg.Snapshotter).Mounts(ctx, cont.ID())
	if err != nil {
		return nil, fmt.Errorf("rootfs mounts: %w", err)
	}
	tio, err := ioCreate(cont.ID())
	if err != nil {
		return nil, err
	}
	defer func() {
		if retErr != nil {
			tio.Cancel()
			tio.Close()
		}
	}()
	cfg := tio.Config()
	req := &tasks.CreateTaskRequest{
		ContainerID: cont.ID(),
		Terminal:    cfg.Terminal,
		Stdin:       cfg.Stdin,
		Stdout:      cfg.Stdout,
		Stderr:      cfg.Stderr,
	}
	for _, mnt := range mounts {
		req.Rootfs = append(req.Rootfs, &types.Mount{Type: mnt.Type, Source: mnt.Source, Target: mnt.Target, Options: mnt.Options})
	}
	if _, err := m.cfg.Client.TaskService().Create(ctx, req); err != nil {
		return nil, errgrpc.ToNative(err)
	}
	// The client's task, with the IO just made, for Wait, Start and the
	// monitor: one read of the task (its PID).
	task, err := cont.Task(ctx, func(*cio.FIFOSet) (cio.IO, error) { return tio, nil })
	if err != nil {
		cctx, cancel := cleanupContext(ctx)
		defer cancel()
		if derr := taskdel.Delete(cctx, m.cfg.Client, cont.ID()); derr != nil {
			m.log.Warn("deleting a task that could not be loaded", "container", cont.ID(), "error", derr)
		}
		return nil, fmt.Errorf("load the created task: %w", err)
	}
	return task, nil
}
