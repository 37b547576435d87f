package sandbox

import (
	"github.com/berth-cri/berth/internal/procsig"
	"github.com/berth-cri/berth/internal/task"
)

// tasks creates and deletes pause tasks: by internal/task's shortcut, or
// the containerd client's way with UpstreamTasks.
func (m *Manager) tasks() task.Calls {
	return task.Calls{Client: m.cfg.Client, Upstream: m.cfg.UpstreamTasks}
}

// identify names the pause process pid for Stop's direct signal, right
// after it started. With UpstreamSignals, or for a pause already gone, it
// stays unnamed and Stop signals through containerd.
func (m *Manager) identify(pid uint32) procsig.Process {
	if m.cfg.UpstreamSignals {
		return procsig.Process{}
	}
	proc, _ := procsig.Identify(int(pid))
	return proc
}
