package cni

import (
	"context"
	"fmt"
	"sync"
)

// idLocks serialises the CNI calls of one sandbox ID. Waiting honours the
// caller's context, so a Teardown queued behind a hung ADD gives up when
// its own deadline passes instead of piling up.
type idLocks struct {
	mu    sync.Mutex
	locks map[string]*idLock
}

type idLock struct {
	held chan struct{} // a token is in the channel while the lock is held
	refs int           // holders and waiters; the entry goes at zero
}

func (l *idLocks) lock(ctx context.Context, id string) (unlock func(), _ error) {
	l.mu.Lock()
	if l.locks == nil {
		l.locks = make(map[string]*idLock)
	}
	e, ok := l.locks[id]
	if !ok {
		e = &idLock{held: make(chan struct{}, 1)}
		l.locks[id] = e
	}
	e.refs++
	l.mu.Unlock()

	release := func() {
		l.mu.Lock()
		e.refs--
		if e.refs == 0 {
			delete(l.locks, id)
		}
		l.mu.Unlock()
	}

	select {
	case e.held <- struct{}{}:
		return func() {
			<-e.held
			release()
		}, nil
	case <-ctx.Done():
		release()
		return nil, ctx.Err()
	}
}

// lockSandbox takes what every CNI call for one sandbox holds: the GC lock
// shared (GC must not see a sandbox being set up as stale) and the
// sandbox's own lock (the CNI spec wants its calls serialised), after
// checking the ID can name a sandbox. The returned func releases both.
func (m *Manager) lockSandbox(ctx context.Context, id string) (func(), error) {
	if err := validateID(id); err != nil {
		return nil, err
	}
	m.gcMu.RLock()
	unlock, err := m.locks.lock(ctx, id)
	if err != nil {
		m.gcMu.RUnlock()
		return nil, fmt.Errorf("wait for other CNI calls of sandbox %s: %w", id, err)
	}
	return func() {
		unlock()
		m.gcMu.RUnlock()
	}, nil
}
