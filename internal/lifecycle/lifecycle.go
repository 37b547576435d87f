package lifecycle

import (
	"sync"
	"time"
)

// Kind is what happened.
type Kind uint8

// The kinds, in the order they happen to a sandbox or container.
const (
	Created Kind = iota + 1
	Started
	Stopped
	Deleted
)

func (k Kind) String() string {
	switch k {
	case Created:
		return "created"
	case Started:
		return "started"
	case Stopped:
		return "stopped"
	case Deleted:
		return "deleted"
	}
	return "unknown"
}

// Event is one change. Sandbox and Container are the objects themselves
// (*sandbox.Sandbox, *container.Container), which stay readable after
// they leave their store, so an event about a removed container or pod
// can still describe it.
type Event struct {
	Kind Kind
	// ID is the container's, or the sandbox's for a sandbox's own event.
	ID string
	At time.Time
	// Sandbox is the pod the event belongs to.
	Sandbox any
	// Container is nil for a sandbox's own event.
	Container any
}

// Hub fans events out to subscribers. Publish never blocks: a subscriber
// that falls a whole buffer behind is cut off (its channel closed and
// Lost reporting true) rather than slowing the runtime or silently
// missing events. A nil *Hub accepts and drops everything.
type Hub struct {
	mu   sync.Mutex
	subs map[*Subscription]struct{}
}

// NewHub returns a Hub without subscribers.
func NewHub() *Hub { return &Hub{subs: map[*Subscription]struct{}{}} }

// Subscription receives the events published after Subscribe returned.
type Subscription struct {
	c    chan Event
	lost bool // set, under the hub's lock, before c is closed
	hub  *Hub
}

// Subscribe starts a subscription buffering up to buffer events.
func (h *Hub) Subscribe(buffer int) *Subscription {
	s := &Subscription{c: make(chan Event, buffer), hub: h}
	h.mu.Lock()
	h.subs[s] = struct{}{}
	h.mu.Unlock()
	return s
}

// C delivers the events; it is closed when the subscriber fell behind.
func (s *Subscription) C() <-chan Event { return s.c }

// Lost reports whether events were dropped because the subscriber fell
// behind; only meaningful once C is closed.
func (s *Subscription) Lost() bool {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	return s.lost
}

// Close ends the subscription.
func (s *Subscription) Close() {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	if _, ok := s.hub.subs[s]; ok {
		delete(s.hub.subs, s)
		close(s.c)
	}
}

// Publish sends e to every subscriber, stamping it now if it has no time.
func (h *Hub) Publish(e Event) {
	if h == nil {
		return
	}
	if e.At.IsZero() {
		e.At = time.Now()
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subs {
		select {
		case s.c <- e:
		default:
			s.lost = true
			delete(h.subs, s)
			close(s.c)
		}
	}
}

// Subscribers is how many subscriptions are open.
func (h *Hub) Subscribers() int {
	if h == nil {
		return 0
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs)
}
