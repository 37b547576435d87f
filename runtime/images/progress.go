package images

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/containerd/containerd/v2/core/images"
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

// progress counts what one pull has received. Every HTTP request to a
// registry goes through its transport, every fetched descriptor through
// its handler. containerd's CRI plugin measures the same way (PR
// containerd#6150): counting at the transport is cheap, where asking the
// content store for ingest status takes its lock.
type progress struct {
	active     atomic.Int32  // registry requests with a response body not yet closed
	bytes      atomic.Uint64 // response bytes received
	lastMove   atomic.Int64  // unix nanos of the last byte received or request started
	layers     atomic.Int32  // layers the image has, once its manifest is read
	layersDone atomic.Int32  // layers fetched (those already unpacked are not)
	now        func() time.Time
}

func newProgress(now func() time.Time) *progress {
	p := &progress{now: now}
	p.lastMove.Store(now().UnixNano())
	return p
}

// moved records that the pull made progress now.
func (p *progress) moved() { p.lastMove.Store(p.now().UnixNano()) }

// stalledFor is how long requests have been open with no byte received,
// or 0 when no request is open: resolving is over and unpacking (which
// receives nothing) is not a stall.
func (p *progress) stalledFor(now time.Time) time.Duration {
	if p.active.Load() == 0 {
		return 0
	}
	return now.Sub(time.Unix(0, p.lastMove.Load()))
}

// updateClient wraps a registry client's transport; containerd's
// ConfigureHosts calls it for every client it makes.
func (p *progress) updateClient(c *http.Client) error {
	if ct, ok := c.Transport.(*countingTransport); ok && ct.p == p {
		return nil // a copy of a client already wrapped
	}
	next := c.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	c.Transport = &countingTransport{next: next, p: p}
	return nil
}

// wrapHandler counts the image's layers and those fetched.
func (p *progress) wrapHandler(h images.Handler) images.Handler {
	return images.HandlerFunc(func(ctx context.Context, desc ocispec.Descriptor) ([]ocispec.Descriptor, error) {
		children, err := h.Handle(ctx, desc)
		if err != nil {
			return children, err
		}
		if images.IsLayerType(desc.MediaType) {
			p.layersDone.Add(1)
		}
		if images.IsManifestType(desc.MediaType) {
			for _, c := range children {
				if images.IsLayerType(c.MediaType) {
					p.layers.Add(1)
				}
			}
		}
		return children, nil
	})
}

// countingTransport counts open requests and received bytes.
type countingTransport struct {
	next http.RoundTripper
	p    *progress
}

func (t *countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	t.p.active.Add(1)
	t.p.moved()
	resp, err := t.next.RoundTrip(req)
	if err != nil {
		t.p.active.Add(-1)
		return nil, err
	}
	resp.Body = &countingBody{ReadCloser: resp.Body, p: t.p}
	return resp, nil
}

type countingBody struct {
	io.ReadCloser
	p    *progress
	once sync.Once
}

func (b *countingBody) Read(buf []byte) (int, error) {
	n, err := b.ReadCloser.Read(buf)
	if n > 0 {
		b.p.bytes.Add(uint64(n))
		b.p.moved()
	}
	return n, err
}

func (b *countingBody) Close() error {
	err := b.ReadCloser.Close()
	b.once.Do(func() { b.p.active.Add(-1) })
	return err
}

// watch logs the pull's progress every progressLogEvery and, when timeout
// is not 0, cancels it with a stallError once requests have been open for
// longer than timeout without a byte. It returns a function that stops it.
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
					log.Warn("cancelling image pull: no data received", "ref", ref, "stalled", stalled.Round(time.Millisecond),
						"timeout", timeout, "bytes", p.bytes.Load(), "layers_fetched", p.layersString())
					cancel(&stallError{ref: ref, timeout: timeout})
					return
				}
			}
			if now.Sub(lastLog) >= progressLogEvery {
				lastLog = now
				log.Info("pulling image", "ref", ref, "bytes", p.bytes.Load(), "layers_fetched", p.layersString(),
					"requests", p.active.Load(), "elapsed", now.Sub(start).Round(time.Second))
			}
		}
	}()
	return func() { close(done); <-stopped }
}

func (p *progress) layersString() string {
	return fmt.Sprintf("%d/%d", p.layersDone.Load(), p.layers.Load())
}
