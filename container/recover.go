package container

import (
	"context"
	"errors"
	"fmt"
	"time"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/containers"
	"github.com/containerd/errdefs"
	"github.com/containerd/typeurl/v2"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// unknownExitCode is reported for a container whose exit was not seen
// (its task was gone when berthd came back), as containerd does.
const unknownExitCode = 255

// Recover rebuilds the store from containerd after berthd restarted:
// every container Berth created, its name reserved again. A running
// container gets its output reattached to its log file and its exit
// watched again; one that exited while berthd was away gets its exit
// recorded now. It returns how many containers it found.
func (m *Manager) Recover(ctx context.Context) (int, error) {
	list, err := m.cfg.Records.List(ctx)
	if err != nil {
		return 0, fmt.Errorf("list containers in containerd: %w", err)
	}
	for _, info := range list {
		c, err := m.recoverOne(ctx, info)
		if err != nil {
			// Kept out of the store: kubelet no longer sees it, and it is
			// left in containerd for an operator to look at.
			m.log.Warn("container recovery", "container", info.ID, "error", err)
			continue
		}
		m.store.add(c)
		if err := m.names.reserve(c.Name, c.ID); err != nil {
			m.log.Warn("container recovery: name taken twice", "container", c.ID, "error", err)
		}
	}
	return len(list), nil
}

func (m *Manager) recoverOne(ctx context.Context, info containers.Container) (*Container, error) {
	anyMD, ok := info.Extensions[extensionMetadata]
	if !ok {
		return nil, fmt.Errorf("no %s extension: %w", extensionMetadata, errdefs.ErrDataLoss)
	}
	var md Metadata
	if err := typeurl.UnmarshalTo(anyMD, &md); err != nil {
		return nil, fmt.Errorf("decode metadata: %w", err)
	}
	st := Status{State: runtimeapi.ContainerState_CONTAINER_CREATED, Resources: md.Config.GetLinux().GetResources()}
	if anyStatus, ok := info.Extensions[extensionStatus]; ok {
		var rec StatusRecord
		if err := typeurl.UnmarshalTo(anyStatus, &rec); err != nil {
			return nil, fmt.Errorf("decode status: %w", err)
		}
		st = rec.apply(st)
	}
	c := newContainer(md, st)

	task, err := m.cfg.Tasks.Load(ctx, c.ID, nil)
	if errdefs.IsNotFound(err) {
		m.recoverWithoutTask(ctx, c)
		return c, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load task: %w", err)
	}
	ts, err := task.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("task status: %w", err)
	}
	switch ts.Status {
	case containerd.Running, containerd.Paused, containerd.Pausing:
		if err := m.reattach(ctx, c); err != nil {
			return nil, err
		}
	case containerd.Stopped:
		m.recordExit(ctx, c, task, nil, int32(ts.ExitStatus), ts.ExitTime, nil, nil)
	default:
		// Created but never started: the StartContainer that made the
		// task died with berthd. It will not be started now.
		if _, err := task.Delete(ctx, containerd.WithProcessKill); err != nil && !errdefs.IsNotFound(err) {
			return nil, fmt.Errorf("delete unstarted task: %w", err)
		}
		m.recoverWithoutTask(ctx, c)
	}
	return c, nil
}

// recoverWithoutTask settles a container that has no task: never started,
// exited and recorded, or gone while berthd was away.
func (m *Manager) recoverWithoutTask(ctx context.Context, c *Container) {
	st := c.Status()
	switch {
	case st.State == runtimeapi.ContainerState_CONTAINER_CREATED && st.StartedAt.IsZero():
		return
	case st.State == runtimeapi.ContainerState_CONTAINER_EXITED:
		c.markExited()
		return
	}
	c.Set(func(s Status) Status {
		s.State, s.Pid, s.ExitCode, s.FinishedAt = runtimeapi.ContainerState_CONTAINER_EXITED, 0, unknownExitCode, time.Now()
		s.Reason, s.Message = "Unknown", "the container's task was gone when berthd restarted"
		return s
	})
	m.persistStatus(ctx, c)
	c.markExited()
}

// reattach connects a running container's output to its log file again
// and watches its exit.
func (m *Manager) reattach(ctx context.Context, c *Container) (retErr error) {
	var logs *logFile
	var stdout, stderr *lineWriter
	if c.LogPath != "" {
		var err error
		if logs, err = openLogFile(c.logDir(), c.logRel(), m.log.With("container", c.ID)); err != nil {
			return err
		}
		defer func() {
			if retErr != nil {
				logs.Close()
			}
		}()
		stdout = logs.stream(streamStdout)
		if !c.Config.GetTty() {
			stderr = logs.stream(streamStderr)
		}
	}
	task, err := m.cfg.Tasks.Load(ctx, c.ID, streams{stdout: writerOrNil(stdout), stderr: writerOrNil(stderr)}.attach)
	if err != nil {
		return fmt.Errorf("reattach the task's output: %w", err)
	}
	exitC, err := task.Wait(context.WithoutCancel(ctx))
	if err != nil {
		return errors.Join(fmt.Errorf("wait on task: %w", err), closeIO(task))
	}
	c.setLogs(logs)
	c.Set(func(s Status) Status {
		s.State, s.Pid = runtimeapi.ContainerState_CONTAINER_RUNNING, task.Pid()
		if s.StartedAt.IsZero() {
			s.StartedAt = time.Now()
		}
		return s
	})
	go m.monitor(context.WithoutCancel(ctx), c, task, exitC, stdout, stderr)
	return nil
}

func closeIO(task Task) error {
	if tio := task.IO(); tio != nil {
		tio.Cancel()
		return tio.Close()
	}
	return nil
}
