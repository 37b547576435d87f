package container

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
	"time"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/cio"
	"github.com/containerd/errdefs"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/berth-cri/berth/internal/guard"
	"github.com/berth-cri/berth/internal/lifecycle"
	"github.com/berth-cri/berth/internal/procsig"
)

// startErrorExitCode is the exit code of a container that failed to start,
// as containerd reports it.
const startErrorExitCode = 128

// ioDrainTimeout bounds how long an exited process's output may keep
// flowing: a child that inherited stdout and outlives the process must
// not hold up the exit.
const ioDrainTimeout = 2 * time.Second

// Start starts a created container's process with its output going to the
// CRI log file, and watches for its exit.
func (m *Manager) Start(ctx context.Context, id string) (retErr error) {
	c, err := m.store.Get(id)
	if err != nil {
		return err
	}
	if err := c.Update(func(s Status) (Status, error) {
		switch {
		case s.Removing:
			return s, fmt.Errorf("container %s is being removed: %w", c.ID, errdefs.ErrFailedPrecondition)
		case s.Starting || s.State != runtimeapi.ContainerState_CONTAINER_CREATED:
			return s, fmt.Errorf("container %s is %s, not CREATED: %w", c.ID, stateName(s), errdefs.ErrFailedPrecondition)
		}
		s.Starting = true
		return s, nil
	}); err != nil {
		return err
	}
	var logs *logFile
	defer func() {
		if retErr == nil {
			return
		}
		// A container that failed to start never will: kubelet sees it
		// exited with StartError and creates the next attempt.
		if logs != nil {
			logs.Close()
		}
		c.Set(func(s Status) Status {
			s.Starting, s.State, s.Pid = false, runtimeapi.ContainerState_CONTAINER_EXITED, 0
			s.FinishedAt, s.ExitCode, s.Reason, s.Message = time.Now(), startErrorExitCode, ReasonStartError, retErr.Error()
			return s
		})
		m.persistStatus(ctx, c)
		c.markExited()
		m.nriStopped(ctx, c)
		m.publish(lifecycle.Stopped, c)
	}()

	sb, err := m.cfg.Sandboxes.Store().Get(c.SandboxID)
	if err != nil {
		return fmt.Errorf("sandbox of container %s: %w", c.ID, err)
	}
	if st := sb.Status(); st.State != runtimeapi.PodSandboxState_SANDBOX_READY {
		return fmt.Errorf("sandbox %s is not ready: %w", sb.ID, errdefs.ErrFailedPrecondition)
	}

	var stdout, stderr *lineWriter
	if c.LogPath != "" {
		if logs, err = openLogFile(c.logDir(), c.logRel(), m.log.With("container", c.ID)); err != nil {
			return err
		}
		stdout = logs.stream(streamStdout)
		if !c.Config.GetTty() {
			stderr = logs.stream(streamStderr)
		}
	}
	if err := os.MkdirAll(m.fifoDir(c.ID), 0o700); err != nil {
		return err
	}
	// Output goes to the log and to attached clients (Attach).
	aio := newAttachIO(c.Config)
	var errOut io.Writer
	if !c.Config.GetTty() {
		errOut = aio.stderr.in(writerOrNil(stderr))
	}
	stdio := streams{dir: m.fifoDir(c.ID), terminal: c.Config.GetTty(), stdin: aio.stdin(), stdout: aio.stdout.in(writerOrNil(stdout)), stderr: errOut}
	unlockShim := m.lockPodShim(c.SandboxID)
	task, err := m.newTask(ctx, c, stdio.creator())
	unlockShim()
	if err != nil {
		return fmt.Errorf("create task: %w", err)
	}
	defer func() {
		if retErr != nil {
			cctx, cancel := cleanupContext(ctx)
			defer cancel()
			defer m.lockPodShim(c.SandboxID)()
			if _, err := task.Delete(cctx, containerd.WithProcessKill); err != nil && !errdefs.IsNotFound(err) {
				m.log.Warn("deleting the task of a failed StartContainer", "container", c.ID, "error", err)
			}
		}
	}()
	// Wait before Start so that the exit cannot be missed, on a context
	// that lives as long as the container.
	exitC, err := task.Wait(context.WithoutCancel(ctx))
	if err != nil {
		return fmt.Errorf("wait on task: %w", err)
	}
	if m.cfg.NRI != nil {
		if err := m.cfg.NRI.StartContainer(ctx, c); err != nil {
			return fmt.Errorf("NRI plugin refused to start container %s: %w", c.ID, err)
		}
	}
	// Before the process runs: an OOM kill right after start must count.
	c.setOOMBaseline(parentOOMKills(c.CgroupsPath))
	if err := task.Start(ctx); err != nil {
		return fmt.Errorf("start task: %w", err)
	}
	// Identified now, while it surely is the container's: a process
	// already gone stays unidentified, and its monitor records the exit.
	proc := procsig.Policy{Off: m.cfg.UpstreamSignals}.Identify(task.Pid())
	m.restored(c.ID)
	c.setLogs(logs)
	c.setAttachIO(aio)
	c.Set(func(s Status) Status {
		s.Starting, s.State, s.Pid, s.Proc, s.StartedAt = false, runtimeapi.ContainerState_CONTAINER_RUNNING, task.Pid(), proc, time.Now()
		return s
	})
	m.publish(lifecycle.Started, c)
	// The RUNNING record is written by the monitor, before it records the
	// exit, so the two never land out of order; StartContainer does not
	// wait for that commit (a disk sync). Were berthd to die first,
	// recovery finds the task and the container running all the same.
	go func() {
		defer guard.Recover(m.log, "watch container "+c.ID, nil)
		ctx := context.WithoutCancel(ctx)
		m.persistStatus(ctx, c)
		m.monitor(ctx, c, task, exitC, stdout, stderr)
	}()
	if m.cfg.NRI != nil {
		m.cfg.NRI.PostStartContainer(ctx, c)
	}
	return nil
}

// writerOrNil keeps a nil *lineWriter a nil io.Writer, so cio sends that
// stream to /dev/null.
func writerOrNil(w *lineWriter) io.Writer {
	if w == nil {
		return nil
	}
	return w
}

// monitor waits for a container's process to exit and records the exit.
// A lost connection to containerd (it restarted) is not an exit: wait
// again. The output keeps flowing through the original IO, whose fifos
// outlive a containerd restart.
func (m *Manager) monitor(ctx context.Context, c *Container, task Task, exitC <-chan containerd.ExitStatus, stdout, stderr *lineWriter) {
	tio := task.IO()
	var st containerd.ExitStatus
	for {
		st = <-exitC
		if st.Error() == nil {
			break
		}
		time.Sleep(time.Second)
		t, err := m.cfg.Tasks.Load(ctx, c.ID, nil)
		if errdefs.IsNotFound(err) {
			break
		}
		if err != nil {
			exitC = retryLater(err)
			continue
		}
		task = t
		if exitC, err = t.Wait(ctx); err != nil {
			exitC = retryLater(err)
		}
	}
	m.recordExit(ctx, c, task, tio, int32(st.ExitCode()), st.ExitTime(), stdout, stderr)
}

// recordExit finishes an exited container: asks the cgroup whether the
// OOM killer ended it, lets the last output drain, deletes the task, and
// records exit code, time and reason, here and in containerd.
func (m *Manager) recordExit(ctx context.Context, c *Container, tk Task, tio cio.IO, code int32, finished time.Time, stdout, stderr *lineWriter) {
	// The cgroup goes with the task: ask it about the OOM killer first.
	oom := oomAtExit(c, code)
	if tio != nil {
		drained := make(chan struct{})
		go func() { tio.Wait(); close(drained) }()
		select {
		case <-drained:
		case <-time.After(ioDrainTimeout):
			tio.Cancel()
		}
	}
	if tk != nil {
		unlockShim := m.lockPodShim(c.SandboxID)
		err := m.cfg.Tasks.Delete(ctx, tk.ID())
		unlockShim()
		if err != nil {
			m.log.Warn("deleting an exited container's task", "container", c.ID, "error", err)
		} else {
			c.taskDeleted.Store(true)
			if tio != nil {
				_ = tio.Close() // the task's fifos: its process has exited
			}
		}
	}
	for _, w := range []*lineWriter{stdout, stderr} {
		if w != nil {
			w.Flush()
		}
	}
	if a := c.attachIO(); a != nil {
		a.close()
	}
	if logs := c.logFile(); logs != nil {
		logs.Close()
		c.setLogs(nil)
	}
	if finished.IsZero() {
		finished = time.Now()
	}
	c.Set(func(s Status) Status {
		s.State, s.Pid, s.Proc, s.FinishedAt, s.ExitCode = runtimeapi.ContainerState_CONTAINER_EXITED, 0, procsig.Process{}, finished, code
		oom = oom || c.oomSeen.Load() // WatchOOM
		s.Reason = exitReason(code, oom)
		return s
	})
	m.persistStatus(ctx, c)
	c.markExited()
	m.publish(lifecycle.Stopped, c)
	os.RemoveAll(m.fifoDir(c.ID))
	m.log.Info("container exited", "container", c.ID, "exitCode", code, "oomKilled", oom)
	m.nriStopped(ctx, c)
}

func retryLater(err error) <-chan containerd.ExitStatus {
	c := make(chan containerd.ExitStatus, 1)
	c <- *containerd.NewExitStatus(containerd.UnknownExitStatus, time.Time{}, err)
	return c
}

func stateName(s Status) string {
	if s.Starting {
		return "starting"
	}
	return s.State.String()
}

// isGone reports errors that mean the process or task is already gone.
func isGone(err error) bool {
	return errdefs.IsNotFound(err) || errors.Is(err, syscall.ESRCH)
}
