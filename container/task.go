package container

import (
	"context"

	"github.com/containerd/containerd/v2/core/mount"
	"github.com/containerd/containerd/v2/pkg/cio"
)

// newTask creates the container's task, on the rootfs mounts Create
// prepared when this berthd made the container; a restored container's
// carries the checkpoint options.
func (m *Manager) newTask(ctx context.Context, c *Container, ioCreate cio.Creator) (Task, error) {
	var rootfs []mount.Mount
	if p := c.rootfs.Swap(nil); p != nil {
		rootfs = *p
	}
	return m.cfg.Tasks.Create(ctx, c.ID, rootfs, ioCreate, m.restoreTaskOpts(c.ID)...)
}
