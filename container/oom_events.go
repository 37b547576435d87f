package container

import (
	"context"
	"fmt"
	"time"

	eventstypes "github.com/containerd/containerd/api/events"
	"github.com/containerd/containerd/v2/core/events"
	"github.com/containerd/typeurl/v2"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// taskOOMTopic is the event a shim publishes when the kernel's OOM killer
// kills a process in a task's cgroup (containerd's core/runtime name).
const taskOOMTopic = "/tasks/oom"

// WatchOOM marks the containers that the OOM killer hit, as their shims
// report it, until ctx ends. Reading the cgroup at exit (oomKilled) is not
// enough with the systemd cgroup driver: systemd removes a container's
// scope as soon as it is empty, often before the exit is recorded.
// containerd's CRI reads OOM kills from the same events.
func (m *Manager) WatchOOM(ctx context.Context, namespace string) {
	filter := fmt.Sprintf(`topic==%q,namespace==%q`, taskOOMTopic, namespace)
	for ctx.Err() == nil {
		evs, errs := m.cfg.Client.Subscribe(ctx, filter)
		m.receiveOOM(ctx, evs, errs)
		select {
		case <-ctx.Done():
		case <-time.After(time.Second): // containerd restarted: subscribe again
		}
	}
}

func (m *Manager) receiveOOM(ctx context.Context, evs <-chan *events.Envelope, errs <-chan error) {
	for {
		select {
		case env := <-evs:
			ev, err := typeurl.UnmarshalAny(env.Event)
			if err != nil {
				m.log.Warn("decoding a task OOM event", "error", err)
				continue
			}
			if oom, ok := ev.(*eventstypes.TaskOOM); ok {
				if c, corrected := m.oomReported(oom.ContainerID); corrected {
					m.persistStatus(ctx, c)
				}
			}
		case err := <-errs:
			if ctx.Err() == nil {
				m.log.Warn("task OOM events interrupted; subscribing again", "error", err)
			}
			return
		}
	}
}

// oomReported records that the OOM killer hit container id (the pause
// and unknown IDs are ignored). An exit already recorded under another
// reason is corrected, and the container returned with corrected true for
// the caller to persist: the event may arrive after the exit.
func (m *Manager) oomReported(id string) (c *Container, corrected bool) {
	c, err := m.store.Get(id)
	if err != nil {
		return nil, false
	}
	// Set before the status is read: recordExit reads the mark inside
	// its Update, so one of the two sees the other.
	c.oomSeen.Store(true)
	c.Set(func(s Status) Status {
		if s.State == runtimeapi.ContainerState_CONTAINER_EXITED && s.Reason != ReasonOOMKilled {
			s.Reason, corrected = ReasonOOMKilled, true
		}
		return s
	})
	return c, corrected
}

// exitReason is the Reason an exit is recorded with.
func exitReason(code int32, oom bool) string {
	switch {
	case oom:
		return ReasonOOMKilled
	case code == 0:
		return ReasonCompleted
	default:
		return ReasonError
	}
}
