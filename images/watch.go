package images

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	eventtypes "github.com/containerd/containerd/api/events"
	"github.com/containerd/containerd/v2/core/events"
	"github.com/containerd/typeurl/v2"
	"github.com/opencontainers/go-digest"
)

// The index follows changes to containerd's image store that Berth did not
// make (ctr or nerdctl importing or removing an image in Berth's
// namespace, another client's pull) as containerd's CRI plugin does: it
// subscribes to containerd's image events (/images/create, update,
// delete) and refreshes each name an event carries. Events are not
// durable: one sent while Berth was not subscribed (containerd restarting,
// the subscription being re-made) is lost. So after every new subscription,
// and every resyncInterval besides, Berth lists containerd's image names
// and refreshes those that differ from the index (resync): a missed event
// costs at most that long, a restart of containerd nothing.
const (
	resyncInterval = 30 * time.Second
	// refreshTimeout bounds one name's refresh: a stuck one must not hold
	// up the others queued behind it.
	refreshTimeout = 30 * time.Second
	// resubscribeMaxDelay is the longest wait between attempts to
	// subscribe again: an attempt while containerd is down fails at once,
	// and once it is back, a change must show within a second.
	resubscribeMaxDelay = 200 * time.Millisecond
)

// watcher is the queue of names to refresh, each at most once, in the
// order they were asked for, and the names left out as unusable, so that
// a resync does not retry (and log) them until their target changes.
type watcher struct {
	mu       sync.Mutex
	active   bool // Start ran: a worker takes from the queue
	pending  map[string]bool
	order    []string
	wake     chan struct{}
	unusable map[string]digest.Digest
}

func (w *watcher) start() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.active = true
	w.pending = map[string]bool{}
	w.unusable = map[string]digest.Digest{}
	w.wake = make(chan struct{}, 1)
}

// add queues names for a refresh; before Start there is no one to refresh.
func (w *watcher) add(names ...string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.active {
		return
	}
	for _, n := range names {
		if n != "" && !w.pending[n] {
			w.pending[n] = true
			w.order = append(w.order, n)
		}
	}
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

func (w *watcher) take() (string, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.order) == 0 {
		return "", false
	}
	n := w.order[0]
	w.order = w.order[1:]
	delete(w.pending, n)
	return n, true
}

// leftOut records that name gave an unusable image at target; true when
// that is news (worth a warning).
func (w *watcher) leftOut(name string, target digest.Digest) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	news := w.unusable[name] != target
	w.unusable[name] = target
	return news
}

func (w *watcher) usable(name string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.unusable, name)
}

func (w *watcher) isLeftOut(name string, target digest.Digest) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	d, ok := w.unusable[name]
	return ok && d == target
}

// indexed records an own write of name to containerd in the index, and
// queues a refresh of it: should containerd have changed the name again
// between the write and now, with its event already handled, the refresh
// reads that change.
func (s *Service) indexed(name string, img Image, pinned bool) {
	s.store.set(name, img, pinned)
	s.watch.add(name)
}

// unindexed is indexed for an own removal of name.
func (s *Service) unindexed(name string) {
	s.store.drop(name)
	s.watch.add(name)
}

// Start builds the index from containerd (Load) and keeps it in step with
// containerd's image store until ctx ends: see the comment on
// resyncInterval. It returns once the index is built.
func (s *Service) Start(ctx context.Context) error {
	ctx = s.withNamespace(ctx)
	// Subscribed before Load lists the images: a change made while Load
	// runs arrives as an event after it.
	subCtx, cancel := context.WithCancel(ctx)
	evs, errs := s.subscribe(subCtx)
	if err := s.Load(ctx); err != nil {
		cancel()
		return err
	}
	s.watch.start()
	go s.refreshLoop(ctx)
	go s.follow(ctx, cancel, evs, errs)
	return nil
}

func (s *Service) subscribe(ctx context.Context) (<-chan *events.Envelope, <-chan error) {
	return s.client.EventService().Subscribe(ctx, fmt.Sprintf(`namespace==%q,topic~="/images/"`, s.namespace))
}

// follow queues the names events carry, resyncs on its interval, and
// subscribes again when the subscription ends (containerd restarted).
func (s *Service) follow(ctx context.Context, cancel context.CancelFunc, evs <-chan *events.Envelope, errs <-chan error) {
	tick := time.NewTicker(resyncInterval)
	defer tick.Stop()
	defer func() { cancel() }()
	for {
		select {
		case <-ctx.Done():
			return
		case e := <-evs:
			if name := eventImageName(e); name != "" {
				s.log.Debug("image event", "topic", e.Topic, "name", name)
				s.watch.add(name)
			}
		case <-tick.C:
			if err := s.resync(ctx); err != nil {
				s.log.Warn("cannot compare the image index with containerd; trying again later", "error", err)
			}
		case err := <-errs:
			cancel()
			if ctx.Err() != nil {
				return
			}
			s.log.Warn("containerd's image events stopped; subscribing again", "error", err)
			evs, errs, cancel = s.resubscribe(ctx)
		}
	}
}

// resubscribe subscribes again and resyncs, retrying until both succeed
// or ctx ends.
func (s *Service) resubscribe(ctx context.Context) (<-chan *events.Envelope, <-chan error, context.CancelFunc) {
	delay := 50 * time.Millisecond
	for {
		subCtx, cancel := context.WithCancel(ctx)
		evs, errs := s.subscribe(subCtx)
		var err error
		select {
		case err = <-errs: // refused at once: containerd is still down
		default:
			err = s.resync(ctx)
		}
		if err == nil {
			s.log.Info("following containerd's image events again; index resynchronised")
			return evs, errs, cancel
		}
		cancel()
		select {
		case <-ctx.Done():
			return nil, nil, func() {}
		case <-time.After(delay):
		}
		delay = min(2*delay, resubscribeMaxDelay)
	}
}

// resync queues a refresh of every name whose target or pinning in
// containerd differs from the index, and of every indexed name containerd
// no longer has.
func (s *Service) resync(ctx context.Context) error {
	all, err := s.client.ImageService().List(ctx)
	if err != nil {
		return fmt.Errorf("list images in containerd: %w", err)
	}
	seen := make(map[string]bool, len(all))
	var changed []string
	for _, ci := range all {
		seen[ci.Name] = true
		if s.store.current(ci.Name, ci.Target.Digest, ci.Labels[LabelPinned] == valuePinned) ||
			s.watch.isLeftOut(ci.Name, ci.Target.Digest) {
			continue
		}
		changed = append(changed, ci.Name)
	}
	for _, n := range s.store.allNames() {
		if !seen[n] {
			changed = append(changed, n)
		}
	}
	if len(changed) > 0 {
		s.log.Info("image index differs from containerd; refreshing", "names", len(changed))
	}
	s.watch.add(changed...)
	return nil
}

// refreshLoop refreshes the queued names, one at a time. A refresh that
// fails for want of containerd is left to the resync after the reconnect.
func (s *Service) refreshLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.watch.wake:
		}
		for name, ok := s.watch.take(); ok && ctx.Err() == nil; name, ok = s.watch.take() {
			rctx, cancel := context.WithTimeout(ctx, refreshTimeout)
			err := s.refresh(rctx, name)
			cancel()
			var unusable *unusableError
			switch {
			case err == nil:
				s.watch.usable(name)
			case errors.As(err, &unusable):
				if s.watch.leftOut(name, unusable.target) {
					s.log.Warn("image in containerd is not usable; leaving it out", "name", name, "error", err)
				}
			case ctx.Err() == nil:
				s.log.Warn("cannot refresh an image from containerd; the next resync retries", "name", name, "error", err)
			}
		}
	}
}

// eventImageName is the image name an /images/ event is about.
func eventImageName(e *events.Envelope) string {
	if e == nil || e.Event == nil {
		return ""
	}
	v, err := typeurl.UnmarshalAny(e.Event)
	if err != nil {
		return ""
	}
	switch ev := v.(type) {
	case *eventtypes.ImageCreate:
		return ev.Name
	case *eventtypes.ImageUpdate:
		return ev.Name
	case *eventtypes.ImageDelete:
		return ev.Name
	}
	return ""
}
