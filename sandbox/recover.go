package sandbox

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/containers"
	"github.com/containerd/errdefs"
	"github.com/containerd/typeurl/v2"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/berth-cri/berth/internal/procsig"
	"github.com/berth-cri/berth/sandbox/netns"
)

// Recover rebuilds the store from containerd after berthd (re)starts,
// before any RPC is served: every sandbox container Berth made becomes a
// sandbox again with its name, IPs and hostPorts; one whose pause process
// is gone, or, infra-less, that was stopped or outlived by a reboot
// (state.go), is NOTREADY, its network kept for kubelet's StopPodSandbox
// to release. Then it releases what no sandbox owns any more: CNI attachments
// (CNI GC), pinned namespaces and files of sandboxes that are gone.
//
// Only failing to list containerd's containers is an error: serving with
// an empty store would let kubelet create every pod twice. Problems with
// one sandbox or one leftover are logged, and the rest recovered.
func (m *Manager) Recover(ctx context.Context) (int, error) {
	// What an older Berth's sandbox pool left goes first: its records and
	// namespaces would otherwise be taken for leftovers below, its pauses
	// left running.
	for _, err := range m.removeLegacyPool(ctx) {
		m.cfg.Logger.Warn("sandbox recovery", "error", err)
	}
	containers, err := m.cfg.Containerd.Containers.Containers(ctx, fmt.Sprintf("labels.%q==%s", LabelKind, KindSandbox))
	if err != nil {
		return 0, fmt.Errorf("list sandboxes in containerd: %w", err)
	}
	var errs []error
	defer func() {
		for _, err := range errs {
			m.cfg.Logger.Warn("sandbox recovery", "error", err)
		}
	}()
	var live, ids, withPause []string
	runtimes := map[string]string{}
	for _, c := range containers {
		ids = append(ids, c.ID())
		sb, err := m.recoverOne(ctx, c, runtimes)
		if err != nil {
			errs = append(errs, fmt.Errorf("recover sandbox %s: %w", c.ID(), err))
			// Its containerd sandbox record is kept: it may have a pause.
			withPause = append(withPause, c.ID())
			continue
		}
		if !sb.Infraless {
			withPause = append(withPause, sb.ID)
		}
		m.store.add(sb)
		m.names.restore(sb.Name, sb.ID)
		if !sb.Status().NetworkTornDown {
			live = append(live, sb.ID)
			if err := m.cfg.HostPorts.Restore(sb.ID, hostPorts(portMappings(sb.Config))); err != nil {
				errs = append(errs, fmt.Errorf("restore hostPorts of sandbox %s: %w", sb.ID, err))
			}
		}
	}
	if err := m.cfg.Network.GC(ctx, live); err != nil {
		errs = append(errs, fmt.Errorf("CNI garbage collection: %w", err))
	}
	errs = append(errs, m.removeOrphans()...)
	errs = append(errs, m.reconcileRecords(ctx, withPause, runtimes)...)
	errs = append(errs, m.reconcileLeases(ctx, ids)...)
	return len(containers), nil
}

func (m *Manager) recoverOne(ctx context.Context, c containerd.Container, runtimes map[string]string) (*Sandbox, error) {
	info, md, err := recordedMetadata(ctx, c)
	if err != nil {
		return nil, err
	}
	runtimes[c.ID()] = info.Runtime.Name
	st := Status{State: runtimeapi.PodSandboxState_SANDBOX_NOTREADY, NetworkTornDown: md.HostNetwork()}
	if anyNet, ok := info.Extensions[extensionNetwork]; ok {
		if v, err := typeurl.UnmarshalAny(anyNet); err == nil {
			if n, ok := v.(*NetworkInfo); ok {
				st.IPs = n.IPs
			}
		}
	}
	if !md.HostNetwork() {
		if ok, _ := m.node.Pinned(md.NetNSPath); !ok {
			// The namespace went with a reboot, or a Stop finished it.
			st.NetworkTornDown = true
		}
	}
	if md.Infraless {
		// Nothing but the pins holds an infra-less pod's namespaces, and
		// its containers join them there: without them it is not ready,
		// whatever its mark says (a state directory that is no tmpfs
		// outlived a reboot, or a pin was unmounted by hand). Reported
		// READY, its containers could not start, and CNI GC would already
		// have handed its IP to another pod.
		if markedReady(m.stateDir(md.ID)) && m.podPinned(md) {
			st.State = runtimeapi.PodSandboxState_SANDBOX_READY
		}
		return newSandbox(*md, st), nil
	}
	sb := newSandbox(*md, st)

	task, err := c.Task(ctx, nil)
	if errdefs.IsNotFound(err) {
		return sb, nil
	}
	if err != nil {
		return nil, err
	}
	ts, err := task.Status(ctx)
	if err != nil {
		return nil, err
	}
	if ts.Status != containerd.Running {
		return sb, nil
	}
	exitC, err := task.Wait(context.WithoutCancel(ctx))
	if err != nil {
		return nil, err
	}
	sb.Set(func(s Status) Status {
		s.State, s.Pid = runtimeapi.PodSandboxState_SANDBOX_READY, task.Pid()
		return s
	})
	m.startWatch(context.WithoutCancel(ctx), sb, c, exitC, procsig.Process{})
	return sb, nil
}

// podPinned says whether the namespaces Berth pinned for the pod still are.
func (m *Manager) podPinned(md *Metadata) bool {
	for _, pin := range []string{md.NetNSPath, md.IPCNSPath, md.UTSNSPath} {
		if pin == "" {
			continue
		}
		if ok, _ := m.node.Pinned(pin); !ok {
			return false
		}
	}
	return true
}

// recordedMetadata reads a pause container and the sandbox Metadata
// recorded on it.
func recordedMetadata(ctx context.Context, c containerd.Container) (containers.Container, *Metadata, error) {
	info, err := c.Info(ctx)
	if err != nil {
		return info, nil, err
	}
	anyMD, ok := info.Extensions[extensionMetadata]
	if !ok {
		return info, nil, fmt.Errorf("no %s extension: %w", extensionMetadata, errdefs.ErrNotFound)
	}
	v, err := typeurl.UnmarshalAny(anyMD)
	if err != nil {
		return info, nil, err
	}
	md, ok := v.(*Metadata)
	if !ok {
		return info, nil, fmt.Errorf("extension %s holds %T", extensionMetadata, v)
	}
	return info, md, nil
}

// removeOrphans removes pinned namespaces, shm mounts and files of
// sandboxes containerd no longer has (removed while berthd was down, or a
// crash between creating them and the pause container).
func (m *Manager) removeOrphans() []error {
	var errs []error
	ids, err := netns.List(m.netnsDir())
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		errs = append(errs, err)
	}
	for _, id := range ids {
		if _, err := m.store.Get(id); errdefs.IsNotFound(err) {
			m.cfg.Logger.Info("removing the network namespace of a sandbox that no longer exists", "sandbox", id)
			if err := m.node.Unpin(netns.Path(m.netnsDir(), id)); err != nil {
				errs = append(errs, err)
			}
		}
	}
	stateRoot := filepath.Join(m.cfg.State, "sandboxes")
	for _, dir := range []string{stateRoot, filepath.Join(m.cfg.Root, "sandboxes")} {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if _, err := m.store.Get(e.Name()); !errdefs.IsNotFound(err) {
				continue
			}
			if dir == stateRoot {
				if err := m.unpinState(filepath.Join(dir, e.Name())); err != nil {
					errs = append(errs, err)
					continue
				}
			}
			if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errs
}

// unpinState releases what a sandbox's state directory may hold mounted:
// its namespace pins and its /dev/shm.
func (m *Manager) unpinState(dir string) error {
	var errs []error
	for _, pin := range []string{usernsFile, ipcFile, utsFile} {
		if err := m.node.Unpin(filepath.Join(dir, pin)); err != nil {
			errs = append(errs, err)
		}
	}
	if err := m.node.UnmountShm(filepath.Join(dir, shmFile)); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
