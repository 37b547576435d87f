package sandbox

import (
	"context"
	"fmt"
	"os"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/errdefs"

	"github.com/berth-cri/berth/internal/lifecycle"
	"github.com/berth-cri/berth/internal/taskdel"
)

// Remove stops a sandbox if needed, removes its containers, its pause
// container and its files, and frees its name. An unknown ID is success.
func (m *Manager) Remove(ctx context.Context, id string) error {
	return m.withLocked(id, func(sb *Sandbox) error {
		if m.containers != nil {
			if err := m.containers.RemoveAll(ctx, sb.ID); err != nil {
				return fmt.Errorf("remove containers of sandbox %s: %w", sb.ID, err)
			}
		}
		if m.cfg.NRI != nil {
			// A Remove without a Stop: plugins see the stop as Stop shows it.
			m.cfg.NRI.StopPodSandbox(ctx, sb)
		}
		if err := m.releaseRuntime(ctx, sb, true); err != nil {
			return err
		}
		if err := m.removeRecords(ctx, sb); err != nil {
			return err
		}
		m.store.delete(sb.ID)
		m.names.release(sb.Name, sb.ID)
		if m.cfg.NRI != nil {
			m.cfg.NRI.RemovePodSandbox(ctx, sb)
		}
		m.publish(lifecycle.Deleted, sb)
		return nil
	})
}

// awaitPauseDeleted waits for the watcher to finish deleting the pause
// task, then deletes it if the watcher could not.
func (m *Manager) awaitPauseDeleted(ctx context.Context, sb *Sandbox) error {
	if w := sb.watch.Load(); w != nil {
		select {
		case <-w.deleted:
			if w.taskDeleted {
				return nil
			}
		case <-ctx.Done():
			return fmt.Errorf("waiting for the pause task of sandbox %s to be deleted: %w", sb.ID, ctx.Err())
		}
	}
	return taskdel.Delete(ctx, m.cfg.Client, sb.ID)
}

// removeRecords deletes the pause task if its watcher has not, the pause
// container (and its rootfs view), the containerd sandbox record and
// lease, and the sandbox's files.
func (m *Manager) removeRecords(ctx context.Context, sb *Sandbox) error {
	if err := m.awaitPauseDeleted(ctx, sb); err != nil {
		return err
	}
	container, err := m.cfg.Client.LoadContainer(ctx, sb.ID)
	switch {
	case errdefs.IsNotFound(err):
		// Run failed before creating it: the view may exist on its own.
		if err := m.cfg.Client.SnapshotService(snapshotter).Remove(ctx, sb.ID); err != nil && !errdefs.IsNotFound(err) {
			return fmt.Errorf("remove pause rootfs: %w", err)
		}
	case err != nil:
		return fmt.Errorf("load pause container: %w", err)
	default:
		if err := container.Delete(ctx, containerd.WithSnapshotCleanup); err != nil && !errdefs.IsNotFound(err) {
			return fmt.Errorf("delete pause container: %w", err)
		}
	}
	if err := m.deleteRecord(ctx, sb.ID); err != nil {
		return err
	}
	if err := deleteLease(ctx, m.cfg.Client.LeasesService(), sb.ID); err != nil {
		return err
	}
	if err := os.RemoveAll(sb.Dir); err != nil {
		return fmt.Errorf("remove sandbox files: %w", err)
	}
	return nil
}
