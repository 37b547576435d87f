package container

import "sync"

// podShims serialises, per infra-less pod, creating a container's task with
// deleting one. Such a pod has no pause task to keep its shim alive: the
// runc shim groups the pod's containers by their sandbox-id annotation
// (withPodShim), and exits when a task delete leaves it with no container.
// A create in flight in that shim then fails with "ttrpc: closed" (seen in
// Kubernetes' node e2e: a pod's second container started while its first
// exited). Under the lock a create either ends before the delete, and the
// shim keeps serving it, or starts after the shim has shut down, and starts
// a new one. Pods with a pause never take it.
type podShims struct {
	mu    sync.Mutex
	locks map[string]*podShimLock
}

type podShimLock struct {
	sync.Mutex
	users int
}

// lock takes the lock of the pod sandboxID and returns its unlock; the
// entry goes when its last user is done.
func (p *podShims) lock(sandboxID string) (unlock func()) {
	p.mu.Lock()
	if p.locks == nil {
		p.locks = map[string]*podShimLock{}
	}
	l := p.locks[sandboxID]
	if l == nil {
		l = &podShimLock{}
		p.locks[sandboxID] = l
	}
	l.users++
	p.mu.Unlock()
	l.Lock()
	return func() {
		l.Unlock()
		p.mu.Lock()
		if l.users--; l.users == 0 {
			delete(p.locks, sandboxID)
		}
		p.mu.Unlock()
	}
}

// lockPodShim takes the pod shim lock of the container's pod when the pod
// is infra-less; otherwise, or when the pod is gone, it returns a no-op.
func (m *Manager) lockPodShim(sandboxID string) (unlock func()) {
	sb, err := m.cfg.Sandboxes.Store().Get(sandboxID)
	if err != nil || !sb.Infraless {
		return func() {}
	}
	return m.shims.lock(sandboxID)
}
