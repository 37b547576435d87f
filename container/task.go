package container

import (
	"context"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/cio"
)

// newTask creates the container's task (task.Create); a restored
// container's goes through the client's NewTask, which carries the
// checkpoint options.
func (m *Manager) newTask(ctx context.Context, cont containerd.Container, ioCreate cio.Creator) (containerd.Task, error) {
	if opts := m.restoreTaskOpts(cont.ID()); len(opts) > 0 {
		return cont.NewTask(ctx, ioCreate, opts...)
	}
	return m.tasks().Create(ctx, cont, m.cfg.Snapshotter, ioCreate)
}
