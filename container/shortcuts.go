package container

import "github.com/berth-cri/berth/internal/task"

// tasks creates and deletes containers' tasks, by internal/task's shortcut
// or, with UpstreamTasks, the containerd client's way.
func (m *Manager) tasks() task.Calls {
	return task.Calls{Client: m.cfg.Client, Upstream: m.cfg.UpstreamTasks}
}
