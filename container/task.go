package container

import (
	"context"

	"github.com/containerd/containerd/v2/pkg/cio"
)

// newTask creates the container's task; a restored container's carries
// the checkpoint options.
func (m *Manager) newTask(ctx context.Context, id string, ioCreate cio.Creator) (Task, error) {
	return m.cfg.Tasks.Create(ctx, id, ioCreate, m.restoreTaskOpts(id)...)
}
