package images

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/containerd/containerd/v2/core/transfer"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func digestHex(b byte) string { return strings.Repeat(string("0123456789abcdef"[b%16]), 64) }

func layerDesc(n byte, size int64) ocispec.Descriptor {
	return ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayerGzip, Digest: digest.Digest("sha256:" + digestHex(n)), Size: size}
}

// event is a transfer progress event as containerd's tracker sends it.
func event(kind string, desc ocispec.Descriptor, received int64) transfer.Progress {
	return transfer.Progress{Event: kind, Name: "layer-" + desc.Digest.Encoded()[:4], Progress: received, Total: desc.Size, Desc: &desc}
}

// fakeClock is a settable time.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func TestProgressStall(t *testing.T) {
	manifest := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.Digest("sha256:" + digestHex(9)), Size: 500}
	l1, l2 := layerDesc(1, 1000), layerDesc(2, 2000)
	resolved := transfer.Progress{Event: "fetching image content", Name: "docker.io/library/app:1", Desc: &manifest}
	for _, tc := range []struct {
		name        string
		events      []transfer.Progress
		alone       bool
		wantWaiting bool // on the registry: an idle minute is a stall
		wantBytes   int64
		wantLayers  string
	}{
		{name: "resolving", events: []transfer.Progress{{Event: "Resolving from OCI Registry (app)"}}, wantWaiting: true, wantLayers: "0/0"},
		{name: "resolved, nothing fetched yet", events: []transfer.Progress{resolved}, wantLayers: "0/0"},
		{
			name:        "a blob part received",
			events:      []transfer.Progress{resolved, event(eventWaiting, l1, 0), event(eventDownloading, l1, 400)},
			wantWaiting: true, wantBytes: 400, wantLayers: "0/1",
		},
		{
			name:       "a blob queued while other pulls run may wait its turn",
			events:     []transfer.Progress{resolved, event(eventWaiting, l1, 0)},
			wantLayers: "0/1",
		},
		{
			name:        "a blob with no byte while this pull runs alone",
			events:      []transfer.Progress{resolved, event(eventWaiting, l1, 0)},
			alone:       true,
			wantWaiting: true, wantLayers: "0/1",
		},
		{
			name: "every blob complete: unpacking",
			events: []transfer.Progress{resolved, event(eventWaiting, l1, 0), event(eventDownloading, l1, 400), event(eventComplete, l1, 1000),
				event(eventWaiting, l2, 0), event(eventExists, l2, 2000), {Event: "extracting", Name: "layer-x", Progress: 10, Total: 1000, Desc: &l1}},
			alone:     true,
			wantBytes: 1000, wantLayers: "2/2",
		},
		{
			name:      "a blob complete between two samples counts whole",
			events:    []transfer.Progress{resolved, event(eventWaiting, l2, 0), event(eventComplete, l2, 2000), event(eventDownloading, l2, 2000)},
			wantBytes: 2000, wantLayers: "1/1",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := &fakeClock{t: time.Unix(1000, 0)}
			p := newProgress(clock.now, func() bool { return tc.alone })
			for _, ev := range tc.events {
				clock.advance(time.Second)
				p.update(ev)
			}
			clock.advance(time.Minute)
			got := p.stalledFor(clock.t)
			if tc.wantWaiting && got < time.Minute {
				t.Errorf("stalledFor = %v after a minute with nothing arriving, want at least a minute", got)
			}
			if !tc.wantWaiting && got != 0 {
				t.Errorf("stalledFor = %v, want 0: the pull is not waiting on the registry", got)
			}
			if bytes, layers := p.summary(); bytes != tc.wantBytes || layers != tc.wantLayers {
				t.Errorf("summary = %d bytes, layers %s; want %d, %s", bytes, layers, tc.wantBytes, tc.wantLayers)
			}
		})
	}
}

func TestProgressFinish(t *testing.T) {
	p := newProgress(time.Now, func() bool { return true })
	l1, l2, l3 := layerDesc(1, 1000), layerDesc(2, 2000), layerDesc(3, 3000)
	p.update(event(eventWaiting, l1, 0))
	p.update(event(eventDownloading, l2, 500))
	p.update(event(eventExists, l3, 3000))
	p.finish()
	if bytes, layers := p.summary(); bytes != 3000 || layers != "3/3" {
		t.Errorf("after a successful pull: %d bytes, layers %s; want 3000 (the layers not already there), 3/3", bytes, layers)
	}
}

func TestProgressMovesOnBytesOnly(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1000, 0)}
	p := newProgress(clock.now, func() bool { return false })
	l1 := layerDesc(1, 1000)
	p.update(event(eventDownloading, l1, 100))
	clock.advance(10 * time.Second)
	p.update(event(eventDownloading, l1, 100)) // the same sample again
	if got := p.stalledFor(clock.t); got != 10*time.Second {
		t.Errorf("stalledFor = %v after 10s without a new byte, want 10s", got)
	}
	p.update(event(eventDownloading, l1, 101))
	if got := p.stalledFor(clock.t); got != 0 {
		t.Errorf("stalledFor = %v right after a byte, want 0", got)
	}
}

func TestProgressWatchdog(t *testing.T) {
	const timeout = 150 * time.Millisecond
	l1 := layerDesc(1, 1000)
	for _, tc := range []struct {
		name      string
		feed      func(p *progress, stop <-chan struct{})
		wantStall bool
	}{
		{
			name:      "blob stalls after a few bytes",
			feed:      func(p *progress, _ <-chan struct{}) { p.update(event(eventDownloading, l1, 10)) },
			wantStall: true,
		},
		{
			name: "slow but steady: a byte every third of the timeout",
			feed: func(p *progress, stop <-chan struct{}) {
				for i := int64(1); ; i++ {
					p.update(event(eventDownloading, l1, i))
					select {
					case <-stop:
						return
					case <-time.After(timeout / 3):
					}
				}
			},
		},
		{
			name: "unpacking is not a stall",
			feed: func(p *progress, _ <-chan struct{}) { p.update(event(eventComplete, l1, 1000)) },
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newProgress(time.Now, func() bool { return true })
			ctx, cancel := context.WithCancelCause(context.Background())
			defer cancel(nil)
			start := time.Now()
			stop := p.watch(ctx, "docker.io/library/app:1", timeout, cancel, discard())
			defer stop()
			feeding := make(chan struct{})
			go tc.feed(p, feeding)
			time.Sleep(5 * timeout)
			close(feeding)
			cause := context.Cause(ctx)
			if !tc.wantStall {
				if cause != nil {
					t.Fatalf("pull cancelled: %v", cause)
				}
				return
			}
			var se *stallError
			if !errors.As(cause, &se) || !errors.Is(cause, context.DeadlineExceeded) {
				t.Fatalf("cause = %v, want a stallError that is a DeadlineExceeded", cause)
			}
			if took := time.Since(start); took < timeout {
				t.Errorf("cancelled after %v with a %v timeout", took, timeout)
			}
			if !strings.Contains(cause.Error(), "docker.io/library/app:1") || !strings.Contains(cause.Error(), "pull_progress_timeout") {
				t.Errorf("message does not say what and why: %v", cause)
			}
		})
	}
}

func TestProgressWatchdogOff(t *testing.T) {
	p := newProgress(time.Now, func() bool { return true })
	ctx, cancel := context.WithCancelCause(context.Background())
	stop := p.watch(ctx, "ref", 0, cancel, discard())
	p.update(event(eventDownloading, layerDesc(1, 1000), 10)) // stalled for ever
	time.Sleep(100 * time.Millisecond)
	stop()
	if err := context.Cause(ctx); err != nil {
		t.Fatalf("a zero timeout cancelled the pull: %v", err)
	}
}

func TestProgressKeepsTheSavedTargets(t *testing.T) {
	p := newProgress(time.Now, func() bool { return true })
	l1 := layerDesc(1, 1000)
	index := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageIndex, Digest: digest.Digest("sha256:" + digestHex(9)), Size: 500}
	p.update(event(eventComplete, l1, 1000))
	if _, ok := p.savedTarget("docker.io/library/busybox:1.36"); ok {
		t.Fatal("a target before the transfer saved the image")
	}
	p.update(transfer.Progress{Event: eventSaved, Name: "docker.io/library/busybox:1.36", Desc: &index})
	got, ok := p.savedTarget("docker.io/library/busybox:1.36")
	if !ok || got.Digest != index.Digest || got.MediaType != index.MediaType {
		t.Errorf("saved target = %v, %v; want the index %s", got, ok, index.Digest)
	}
	// The saved image is not a blob of the pull.
	p.finish()
	if bytes, layers := p.summary(); bytes != 1000 || layers != "1/1" {
		t.Errorf("summary with a saved event: %d bytes, layers %s; want 1000, 1/1", bytes, layers)
	}
}
