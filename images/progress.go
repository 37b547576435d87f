package images

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/containerd/containerd/v2/core/images"
	"github.com/containerd/containerd/v2/core/transfer"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// progressLogEvery is how often a running pull logs how far it got.
const progressLogEvery = 5 * time.Second

// stallError is why the watchdog cancelled a pull. It unwraps to
// context.DeadlineExceeded so the CRI edge answers DeadlineExceeded.
type stallError struct {
	ref     string
	timeout time.Duration
}

func (e *stallError) Error() string {
	return fmt.Sprintf("pulling %s: no data received from the registry for %v (image.pull_progress_timeout); pull cancelled", e.ref, e.timeout)
}

func (e *stallError) Unwrap() error { return context.DeadlineExceeded }

// Blob states in the transfer service's progress events (containerd's
// core/transfer/local/progress.go sends them; its CRI plugin reads the
// same ones).
const (
	eventWaiting     = "waiting"
	eventDownloading = "downloading"
	eventComplete    = "complete"
	eventExists      = "already exists"
	// eventSaved names an image the transfer wrote, with its target
	// (core/transfer/local/pull.go).
	eventSaved = "saved"
)

// progress follows one pull from the progress events containerd's
// transfer service streams back: the service samples the content store's
// ingests every 300 ms and reports each blob's received bytes, then its
// completion. The pull runs inside containerd, so these events are all
// Berth sees of its HTTP requests.
type progress struct {
	now func() time.Time
	// alone reports whether this is the only pull Berth is running; see
	// stalledFor.
	alone func() bool

	mu       sync.Mutex
	resolved bool             // an event named a blob: the reference is resolved
	blobs    map[string]*blob // by the event's name (one per digest)
	bytes    int64            // received from the registry
	lastMove time.Time        // last byte received, blob completed, or start
	// saved are the targets of the image names the transfer wrote, by name.
	saved map[string]ocispec.Descriptor
}

type blob struct {
	layer    bool
	total    int64
	received int64
	done     bool // complete or already there
}

// savedTarget is the target the transfer gave the image name, if its
// "saved" event has arrived (the events come on their own stream, and may
// trail the transfer's end).
func (p *progress) savedTarget(name string) (ocispec.Descriptor, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	d, ok := p.saved[name]
	return d, ok
}

func newProgress(now func() time.Time, alone func() bool) *progress {
	return &progress{now: now, alone: alone, blobs: map[string]*blob{}, lastMove: now()}
}

// update takes one transfer progress event. It is the transfer's
// ProgressFunc, called from one goroutine, possibly after the transfer
// returned.
func (p *progress) update(ev transfer.Progress) {
	if ev.Name == "" || ev.Desc == nil {
		return // "Resolving from...", "Completed pull from..."
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if ev.Event == eventSaved {
		if p.saved == nil {
			p.saved = map[string]ocispec.Descriptor{}
		}
		p.saved[ev.Name] = *ev.Desc
		return
	}
	if !p.resolved {
		p.resolved = true
		p.lastMove = p.now()
	}
	b := p.blobs[ev.Name]
	if b == nil {
		if ev.Event != eventWaiting && ev.Event != eventDownloading && ev.Event != eventComplete && ev.Event != eventExists {
			return // "fetching image content" names the root; "extracting", "saved"...
		}
		b = &blob{layer: images.IsLayerType(ev.Desc.MediaType), total: ev.Desc.Size}
		p.blobs[ev.Name] = b
	}
	if b.done {
		return
	}
	switch ev.Event {
	case eventWaiting, eventDownloading:
		if ev.Progress > b.received {
			p.bytes += ev.Progress - b.received
			b.received = ev.Progress
			p.lastMove = p.now()
		}
	case eventComplete:
		// A blob may finish between two samples: what was not seen
		// arriving arrived now.
		if ev.Total > b.received {
			p.bytes += ev.Total - b.received
			b.received = ev.Total
		}
		b.done = true
		p.lastMove = p.now()
	case eventExists:
		b.done = true
		p.lastMove = p.now()
	}
}

// stalledFor is how long the pull has waited on the registry with nothing
// arriving, or 0 while it is not waiting on it: resolving the reference
// and blobs part received are waits; unpacking (which receives nothing)
// is not. A blob with no byte yet may be queued behind containerd's shared
// download limit (plugins.transfer max_concurrent_downloads) while other
// pulls use it, so it counts only when this pull is Berth's only one: then
// the downloads ahead of it are this pull's own, and nothing arriving for
// any of them is a stall (a registry that never answers a blob request).
func (p *progress) stalledFor(now time.Time) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	waiting := !p.resolved
	queued := false
	for _, b := range p.blobs {
		if b.done {
			continue
		}
		if b.received > 0 {
			waiting = true
		} else {
			queued = true
		}
	}
	if !waiting && !(queued && p.alone()) {
		return 0
	}
	return now.Sub(p.lastMove)
}

// finish records a successful pull: every blob it fetched is in the
// content store. The transfer service samples blobs every 300 ms and stops
// sampling when the pull ends, so a blob fetched since the last sample is
// reported waiting or part received, never complete.
func (p *progress) finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, b := range p.blobs {
		if !b.done && b.total > b.received {
			p.bytes += b.total - b.received
			b.received = b.total
		}
		b.done = true
	}
}

// summary is what the pull's log lines say: bytes received, and layers
// complete out of those this pull fetched (a layer whose snapshot is
// already there is not fetched).
func (p *progress) summary() (bytes int64, layers string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var n, done int
	for _, b := range p.blobs {
		if b.layer {
			n++
			if b.done {
				done++
			}
		}
	}
	return p.bytes, fmt.Sprintf("%d/%d", done, n)
}

// watch logs the pull's progress every progressLogEvery and, when timeout
// is not 0, cancels it with a stallError once it has waited on the
// registry for longer than timeout with nothing arriving. It returns a
// function that stops it.
func (p *progress) watch(ctx context.Context, ref string, timeout time.Duration, cancel context.CancelCauseFunc, log *slog.Logger) (stop func()) {
	// Check often enough that a stall is caught within about a quarter of
	// the timeout past it.
	tick := time.Second
	if timeout > 0 && timeout/4 < tick {
		tick = max(timeout/4, 10*time.Millisecond)
	}
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(tick)
		defer t.Stop()
		start := p.now()
		lastLog := start
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
			}
			now := p.now()
			if timeout > 0 {
				if stalled := p.stalledFor(now); stalled > timeout {
					bytes, layers := p.summary()
					log.Warn("cancelling image pull: no data received", "ref", ref, "stalled", stalled.Round(time.Millisecond),
						"timeout", timeout, "bytes", bytes, "layers_fetched", layers)
					cancel(&stallError{ref: ref, timeout: timeout})
					return
				}
			}
			if now.Sub(lastLog) >= progressLogEvery {
				lastLog = now
				bytes, layers := p.summary()
				log.Info("pulling image", "ref", ref, "bytes", bytes, "layers_fetched", layers,
					"elapsed", now.Sub(start).Round(time.Second))
			}
		}
	}()
	return func() { close(done); <-stopped }
}
