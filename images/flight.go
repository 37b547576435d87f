package images

import (
	"context"
	"log/slog"
	"sync"

	"github.com/berth-cri/berth/internal/guard"
)

// flights de-duplicates concurrent pulls: callers with the same key share
// one run of the pull. The run does not belong to any one caller: it goes
// on while at least one of them waits, so a kubelet retry after its own
// timeout joins the download already under way instead of starting over,
// and it is cancelled once every caller has given up.
type flights struct {
	mu sync.Mutex
	m  map[string]*flight
	// log receives a pull's panic (see guard); nil is slog's default.
	log *slog.Logger
}

type flight struct {
	done    chan struct{}
	img     Image
	err     error
	waiters int
	cancel  context.CancelFunc
}

// do runs fn once for key among concurrent callers and gives each the
// result. fn's context keeps ctx's values (namespace, logger) but not its
// cancellation.
func (g *flights) do(ctx context.Context, key string, fn func(context.Context) (Image, error)) (Image, error) {
	g.mu.Lock()
	if g.m == nil {
		g.m = map[string]*flight{}
	}
	f, ok := g.m[key]
	if !ok {
		fctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		f = &flight{done: make(chan struct{}), cancel: cancel}
		g.m[key] = f
		go func() {
			var img Image
			var err error
			func() {
				// The pull is nobody's request: a panic in it would end
				// berthd. It fails the pull for every waiter instead.
				defer guard.Recover(g.log, "pull "+key, func(e error) { err = e })
				img, err = fn(fctx)
			}()
			cancel()
			g.mu.Lock()
			if g.m[key] == f {
				delete(g.m, key)
			}
			g.mu.Unlock()
			f.img, f.err = img, err
			close(f.done)
		}()
	}
	f.waiters++
	g.mu.Unlock()

	select {
	case <-f.done:
		return f.img, f.err
	case <-ctx.Done():
		g.mu.Lock()
		f.waiters--
		if f.waiters == 0 {
			// Nobody wants it any more. A new caller starts afresh rather
			// than joining a pull that is being cancelled.
			f.cancel()
			if g.m[key] == f {
				delete(g.m, key)
			}
		}
		g.mu.Unlock()
		return Image{}, ctx.Err()
	}
}

// running is how many pulls are under way, shared ones counted once.
func (g *flights) running() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.m)
}
