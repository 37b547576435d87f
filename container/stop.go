package container

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"

	"github.com/containerd/errdefs"
	"github.com/moby/sys/signal"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/berth-cri/berth/internal/lifecycle"
	"github.com/berth-cri/berth/internal/procsig"
)

// killWait bounds the wait for an exit after SIGKILL: the kernel only
// needs the process to be scheduled, but a process in uninterruptible
// sleep (D state, a hung NFS mount) can take a while.
const killWait = 30 * time.Second

// Stop stops a running container: its stop signal, then SIGKILL once
// timeout has passed (at once for a zero timeout). A container that is not
// running, or an unknown ID, is success.
func (m *Manager) Stop(ctx context.Context, id string, timeout time.Duration) error {
	c, err := m.store.Get(id)
	if errdefs.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := m.stop(ctx, c, timeout); err != nil {
		return err
	}
	m.nriStopped(ctx, c)
	return nil
}

func (m *Manager) stop(ctx context.Context, c *Container, timeout time.Duration) error {
	st := c.Status()
	if st.State != runtimeapi.ContainerState_CONTAINER_RUNNING && st.State != runtimeapi.ContainerState_CONTAINER_UNKNOWN {
		return nil
	}
	if timeout > 0 {
		sig, err := signal.ParseSignal(c.StopSignal)
		if err != nil {
			m.log.Warn("unknown stop signal; using SIGTERM", "container", c.ID, "signal", c.StopSignal)
			sig = syscall.SIGTERM
		}
		gone, err := m.kill(ctx, c, sig, false)
		if err != nil && m.exitedMeanwhile(ctx, c, err) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("send %s: %w", c.StopSignal, err)
		}
		if gone {
			return m.awaitRecorded(ctx, c)
		}
		select {
		case <-c.Exited():
			return nil
		case <-time.After(timeout):
		case <-ctx.Done():
			return fmt.Errorf("stopping container %s: %w", c.ID, ctx.Err())
		}
	}
	// A container that does not own its PID namespace leaves its other
	// processes running when its first one dies: kill them all.
	all := c.Config.GetLinux().GetSecurityContext().GetNamespaceOptions().GetPid() != runtimeapi.NamespaceMode_CONTAINER
	c.killSent.Store(true) // its exit is no OOM kill (oomAtExit)
	gone, err := m.kill(ctx, c, syscall.SIGKILL, all)
	if err != nil && m.exitedMeanwhile(ctx, c, err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("send SIGKILL: %w", err)
	}
	if gone {
		return m.awaitRecorded(ctx, c)
	}
	select {
	case <-c.Exited():
		return nil
	case <-time.After(killWait):
		return fmt.Errorf("container %s did not exit %v after SIGKILL: %w", c.ID, killWait, errdefs.ErrUnavailable)
	case <-ctx.Done():
		return fmt.Errorf("stopping container %s: %w", c.ID, ctx.Err())
	}
}

// kill signals a container's process; with all, every process in its
// cgroup. gone says that there is no task, or no process, left to signal.
// One process is signalled straight from berthd when it is identified:
// runc's kill would do no more than that, and costs a runc run. The rest
// goes to the task by ID, without loading the container and its task
// first (two round trips).
func (m *Manager) kill(ctx context.Context, c *Container, sig syscall.Signal, all bool) (gone bool, err error) {
	if !all {
		err := c.Status().Proc.Signal(sig)
		if errors.Is(err, procsig.ErrGone) {
			return true, nil
		}
		if !errors.Is(err, errors.ErrUnsupported) {
			return false, err
		}
	}
	err = m.cfg.Tasks.Kill(ctx, c.ID, sig, all)
	if err != nil && isGone(err) {
		return true, nil
	}
	return false, err
}

// exitedMeanwhile says whether a container whose signal failed with
// killErr has exited anyway. A process that exits as it is signalled has
// its task deleted by the exit's recording (recordExit), and the kill then
// fails on the shim's closed connection ("ttrpc: closed", code Unknown)
// rather than with NotFound; the exit is recorded right after, so the
// stop succeeded. containerd's CRI waits on the exit the same way. An
// unavailable containerd is no such race: its error is returned at once.
func (m *Manager) exitedMeanwhile(ctx context.Context, c *Container, killErr error) bool {
	if errdefs.IsUnavailable(killErr) {
		return false
	}
	select {
	case <-c.Exited():
		return true
	case <-time.After(exitRecordWait):
		return false
	case <-ctx.Done():
		return false
	}
}

// exitRecordWait bounds the wait for an exit being recorded: the IO
// drain, the task's deletion and the status write.
const exitRecordWait = ioDrainTimeout + 5*time.Second

// awaitRecorded waits for the monitor to record the exit of a container
// whose task is already gone, so that the caller sees it EXITED.
func (m *Manager) awaitRecorded(ctx context.Context, c *Container) error {
	select {
	case <-c.Exited():
	case <-time.After(exitRecordWait):
	case <-ctx.Done():
	}
	return nil
}

// Remove removes a container, stopping it first if it runs: its task, the
// containerd container and its snapshot. The log file stays: kubelet owns
// it. An unknown ID is success.
func (m *Manager) Remove(ctx context.Context, id string) (retErr error) {
	c, err := m.store.Get(id)
	if errdefs.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := c.Update(func(s Status) (Status, error) {
		if s.Starting {
			return s, fmt.Errorf("container %s is starting: %w", c.ID, errdefs.ErrFailedPrecondition)
		}
		s.Removing = true
		return s, nil
	}); err != nil {
		return err
	}
	defer func() {
		if retErr != nil {
			c.Set(func(s Status) Status { s.Removing = false; return s })
		}
	}()
	if err := m.stop(ctx, c, 0); err != nil {
		return err
	}
	if err := m.deleteRecords(ctx, c.ID, c.SandboxID, c.ImageVolumes, !c.taskDeleted.Load()); err != nil {
		return err
	}
	m.store.delete(c.ID)
	m.names.release(c.Name, c.ID)
	if m.cfg.NRI != nil {
		m.cfg.NRI.RemoveContainer(ctx, c)
	}
	m.publish(lifecycle.Deleted, c)
	return nil
}

// deleteRecords deletes the task if one may be left, the containerd
// container and its snapshot, its image volumes, and its state directory.
// It talks to containerd's services directly: at most three calls where
// the client's container.Delete makes six (load, task lookups, reads), on
// every RemoveContainer, and the container and its snapshot go side by
// side. Each step is idempotent, so a retry finishes the rest.
func (m *Manager) deleteRecords(ctx context.Context, id, sandboxID string, volumes int, taskMayBeLeft bool) error {
	if taskMayBeLeft {
		unlockShim := m.lockPodShim(sandboxID)
		err := m.cfg.Tasks.Delete(ctx, id)
		unlockShim()
		if err != nil {
			return err
		}
	}
	snapshotErr := make(chan error, 1)
	go func() {
		err := m.cfg.Snapshots.Remove(ctx, id)
		if err != nil && !errdefs.IsNotFound(err) {
			err = fmt.Errorf("remove rootfs snapshot: %w", err)
		} else {
			err = nil
		}
		snapshotErr <- err
	}()
	var containerErr error
	if err := m.cfg.Records.Delete(ctx, id); err != nil && !errdefs.IsNotFound(err) {
		containerErr = fmt.Errorf("delete container: %w", err)
	}
	if err := errors.Join(containerErr, <-snapshotErr); err != nil {
		return err
	}
	// Unmounted before the state directory goes: removing it recursively
	// must not reach into a mount.
	if err := m.unmountImageVolumes(ctx, id, volumes); err != nil {
		return err
	}
	if err := os.RemoveAll(m.restoreDir(id)); err != nil {
		return err
	}
	return removeStateDir(m.fifoDir(id))
}

// StopAll kills a sandbox's containers at once: the sandbox is going away
// and kubelet already gave each its grace period.
func (m *Manager) StopAll(ctx context.Context, sandboxID string) error {
	return m.forEach(sandboxID, func(c *Container) error {
		if err := m.stop(ctx, c, 0); err != nil {
			return err
		}
		m.nriStopped(ctx, c)
		return nil
	})
}

// RemoveAll removes a sandbox's containers.
func (m *Manager) RemoveAll(ctx context.Context, sandboxID string) error {
	return m.forEach(sandboxID, func(c *Container) error { return m.Remove(ctx, c.ID) })
}

// forEach runs fn on the sandbox's containers side by side.
func (m *Manager) forEach(sandboxID string, fn func(*Container) error) error {
	list := m.store.ListSandbox(sandboxID)
	errs := make(chan error, len(list))
	for _, c := range list {
		go func() {
			if err := fn(c); err != nil {
				errs <- fmt.Errorf("container %s: %w", c.ID, err)
				return
			}
			errs <- nil
		}()
	}
	var all []error
	for range list {
		all = append(all, <-errs)
	}
	return errors.Join(all...)
}
