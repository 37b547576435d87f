package sandbox

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/containerd/containerd/api/services/tasks/v1"
	"github.com/containerd/errdefs"
	"github.com/containerd/errdefs/pkg/errgrpc"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/berth-cri/berth/conntrack"
	"github.com/berth-cri/berth/internal/lifecycle"
	"github.com/berth-cri/berth/internal/procsig"
	"github.com/berth-cri/berth/sandbox/netns"
)

// Stop stops a sandbox's containers and its pause task (for a pod that has
// one), and releases its network: CNI DEL, hostPorts, conntrack entries,
// and its namespaces. It is
// idempotent, and an unknown ID is success (kubelet stops sandboxes that
// may already be gone).
func (m *Manager) Stop(ctx context.Context, id string) error {
	return m.withLocked(id, func(sb *Sandbox) error {
		if m.containers != nil {
			if err := m.containers.StopAll(ctx, sb.ID); err != nil {
				return fmt.Errorf("stop containers of sandbox %s: %w", sb.ID, err)
			}
		}
		if m.cfg.NRI != nil {
			// Containers stopped, network and pause still there.
			m.cfg.NRI.StopPodSandbox(ctx, sb)
		}
		return m.releaseRuntime(ctx, sb)
	})
}

// withLocked runs fn on the sandbox with its lifecycle lock held, so Stop
// and Remove of one sandbox never interleave. An unknown ID is success:
// there is nothing to stop or remove.
func (m *Manager) withLocked(id string, fn func(*Sandbox) error) error {
	sb, err := m.store.Get(id)
	if errdefs.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	sb.lifecycle.Lock()
	defer sb.lifecycle.Unlock()
	return fn(sb)
}

// releaseRuntime undoes what a running sandbox holds, each step idempotent
// so that a retry finishes what an earlier attempt could not. The sandbox
// ends NOTREADY; Problem says what is still held.
//
// The namespace pins and /dev/shm are unmounted last, in the background
// (startUnmount): each unmount waits in the kernel for an RCU grace period
// (5 to 10 ms here, on a busy node), and nothing a client does waits on
// them. Remove waits for them (awaitUnmount) before it returns.
func (m *Manager) releaseRuntime(ctx context.Context, sb *Sandbox) error {
	// Not ready from here, even if berthd restarts before the rest is done.
	if err := unmarkReady(m.stateDir(sb.ID)); err != nil {
		return err
	}
	// The pause task and the network are released side by side: CNI DEL
	// needs only the pinned namespace, not the pause process.
	defer m.metrics.since(stageStop, time.Now())
	taskErr := make(chan error, 1)
	go func() {
		defer m.metrics.since(stagePauseStop, time.Now())
		taskErr <- m.guarded("stop the pause of sandbox "+sb.ID, func() error { return m.stopPause(ctx, sb) })()
	}()
	var errs []error
	if !sb.Status().NetworkTornDown {
		if err := m.releaseNetwork(ctx, sb); err != nil {
			errs = append(errs, err)
		} else {
			sb.Set(func(s Status) Status { s.NetworkTornDown = true; return s })
		}
	}
	if err := <-taskErr; err != nil {
		errs = append(errs, err)
	}
	m.startUnmount(sb)
	err := errors.Join(errs...)
	wasReady := false
	sb.Set(func(s Status) Status {
		wasReady = s.State == runtimeapi.PodSandboxState_SANDBOX_READY
		s.State, s.Pid, s.Problem = runtimeapi.PodSandboxState_SANDBOX_NOTREADY, 0, ""
		if err != nil {
			s.Problem = err.Error()
		}
		return s
	})
	if wasReady {
		m.publish(lifecycle.Stopped, sb)
	}
	return err
}

// unmountJob is one release of a sandbox's mounts, under way or done.
type unmountJob struct {
	done chan struct{}
	err  error // set before done is closed
}

// startUnmount releases the sandbox's mounts in the background, after any
// release an earlier call started (so a failed one is retried). Called with
// sb.lifecycle held, or before sb is listed.
func (m *Manager) startUnmount(sb *Sandbox) {
	prev := sb.unmounting
	job := &unmountJob{done: make(chan struct{})}
	sb.unmounting = job
	m.cleanups.add()
	go func() {
		defer m.cleanups.done()
		defer close(job.done)
		if prev != nil {
			<-prev.done
		}
		if job.err = m.releaseMounts(sb); job.err != nil {
			m.cfg.Logger.Warn("releasing a stopped sandbox's mounts failed; its next Stop or Remove retries", "sandbox", sb.ID, "error", job.err)
		}
	}()
}

// awaitUnmount waits for the last release of the sandbox's mounts and
// says whether it failed.
func (m *Manager) awaitUnmount(ctx context.Context, sb *Sandbox) error {
	job := sb.unmounting
	if job == nil {
		return nil
	}
	select {
	case <-job.done:
		return job.err
	case <-ctx.Done():
		return fmt.Errorf("waiting for the mounts of sandbox %s to be released: %w", sb.ID, ctx.Err())
	}
}

// releaseMounts unpins the sandbox's namespaces, unmounts its /dev/shm
// and removes its state directory. The network namespace goes only once
// CNI DEL succeeded: a retried DEL needs it. The unmounts run side by
// side, so that their grace periods overlap.
func (m *Manager) releaseMounts(sb *Sandbox) error {
	var pins []string
	if sb.NetNSPath != "" && sb.Status().NetworkTornDown {
		pins = append(pins, sb.NetNSPath)
	}
	for _, p := range []string{sb.IPCNSPath, sb.UTSNSPath, sb.UserNSPath} {
		if p != "" {
			pins = append(pins, p)
		}
	}
	errs := make([]error, len(pins)+1)
	var wg sync.WaitGroup
	for i, p := range pins {
		wg.Go(func() {
			if err := netns.Remove(p); err != nil {
				errs[i] = fmt.Errorf("unpin namespace: %w", err)
			}
		})
	}
	if sb.ShmPath != "" {
		errs[len(pins)] = unmountShm(sb.ShmPath)
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if err := os.RemoveAll(m.stateDir(sb.ID)); err != nil {
		return fmt.Errorf("remove sandbox state: %w", err)
	}
	return nil
}

// stopPause kills the pause process and waits until its watcher has
// recorded the exit; the watcher deletes the task after that. Without a
// watcher (berthd found the pause dead when it started), the task is
// deleted here.
func (m *Manager) stopPause(ctx context.Context, sb *Sandbox) error {
	if sb.Infraless {
		return nil
	}
	w := sb.watch.Load()
	if w == nil {
		return m.tasks().Delete(ctx, sb.ID)
	}
	select {
	case <-w.exited:
		return nil
	default:
	}
	// SIGKILL to the pause process alone: it is PID 1 of the pod's PID
	// namespace, or alone in its cgroup with the node's. Straight from
	// berthd when it knows the process; through the shim (a runc run)
	// when it does not.
	err := w.proc.Signal(syscall.SIGKILL)
	if errors.Is(err, errors.ErrUnsupported) {
		_, err = m.cfg.Client.TaskService().Kill(ctx, &tasks.KillRequest{ContainerID: sb.ID, Signal: uint32(syscall.SIGKILL)})
		if err = errgrpc.ToNative(err); errdefs.IsNotFound(err) {
			err = nil
		}
	}
	if err != nil && !errors.Is(err, procsig.ErrGone) {
		return fmt.Errorf("kill pause task: %w", err)
	}
	select {
	case <-w.exited:
		return nil
	case <-time.After(pauseKillWait):
		return fmt.Errorf("pause process of sandbox %s did not exit %v after SIGKILL: %w", sb.ID, pauseKillWait, errdefs.ErrUnavailable)
	case <-ctx.Done():
		return fmt.Errorf("stopping the pause process of sandbox %s: %w", sb.ID, ctx.Err())
	}
}

// pauseKillWait bounds the wait for the pause process's exit after SIGKILL.
const pauseKillWait = 30 * time.Second

// releaseNetwork detaches the pod from its network; releaseMounts then
// removes the namespace. The conntrack purge runs in the background: it is
// for the next flows, not for this pod, and stale entries expire on their
// own.
func (m *Manager) releaseNetwork(ctx context.Context, sb *Sandbox) error {
	if sb.HostNetwork() {
		return nil
	}
	cniStart := time.Now()
	if err := m.cfg.Network.Teardown(ctx, sb.ID); err != nil {
		return fmt.Errorf("CNI DEL: %w", err)
	}
	m.metrics.since(stageCNIDel, cniStart)
	m.cfg.HostPorts.Release(sb.ID)
	m.purgeConntrack(sb)
	return nil
}

// purgeConntrack asks for the entries of the pod's IPs and UDP hostPorts
// to be deleted, so that a client's datagrams are not DNATed to an
// endpoint that is gone (containerd and CRI-O only flush on ADD).
func (m *Manager) purgeConntrack(sb *Sandbox) {
	var udp []conntrack.HostPort
	for _, pm := range portMappings(sb.Config) {
		if pm.Protocol != "udp" {
			continue
		}
		hp := conntrack.HostPort{Port: uint16(pm.HostPort)}
		if addr, err := netip.ParseAddr(pm.HostIP); err == nil {
			hp.HostIP = addr
		}
		udp = append(udp, hp)
	}
	m.cfg.Conntrack.Purge(sb.Status().IPs, udp)
}
