package sandbox

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/containerd/errdefs"

	"github.com/berth-cri/berth/internal/lifecycle"
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
		if err := m.releaseRuntime(ctx, sb); err != nil {
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
	if sb.Infraless {
		return nil
	}
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
	return m.tasks().Delete(ctx, sb.ID)
}

// removeRecords deletes the pause task if its watcher has not, the pause
// container (and its rootfs view), the containerd sandbox record and
// lease, and, once its mounts are released, the sandbox's files.
func (m *Manager) removeRecords(ctx context.Context, sb *Sandbox) error {
	if err := m.awaitPauseDeleted(ctx, sb); err != nil {
		return err
	}
	// The pause container, its rootfs (named by the sandbox ID), the
	// sandbox record and the lease are records apart: deleted at once.
	// The rootfs may exist without the container (a Run that failed
	// between the two), and each is NotFound once deleted.
	cs := m.cfg.Client.ContainerService()
	ss := m.cfg.Client.SnapshotService(snapshotter)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	wg.Go(func() {
		if err := cs.Delete(ctx, sb.ID); err != nil && !errdefs.IsNotFound(err) {
			errs[0] = fmt.Errorf("delete pause container: %w", err)
		}
	})
	wg.Go(func() {
		if err := ss.Remove(ctx, sb.ID); err != nil && !errdefs.IsNotFound(err) {
			errs[1] = fmt.Errorf("remove pause rootfs: %w", err)
		}
	})
	wg.Go(func() { errs[2] = m.deleteRecord(ctx, sb.ID) })
	wg.Go(func() { errs[3] = deleteLease(ctx, m.cfg.Client.LeasesService(), sb.ID) })
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	// The unmounts ran beside the deletions above.
	if err := m.awaitUnmount(ctx, sb); err != nil {
		return err
	}
	if err := os.RemoveAll(sb.Dir); err != nil {
		return fmt.Errorf("remove sandbox files: %w", err)
	}
	// The pause is gone (awaitPauseDeleted): the cgroup an older Berth
	// moved it into is empty.
	if sb.MovedCgroup != "" {
		hier, err := cgroupV1Hierarchies()
		if err != nil {
			return fmt.Errorf("remove the cgroup of a pause an older Berth moved: %w", err)
		}
		return removeCgroup(hier, sb.MovedCgroup)
	}
	return nil
}
