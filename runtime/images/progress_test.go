package images

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/containerd/containerd/v2/core/images"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

func nowFunc() func() time.Time { return time.Now }

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// slowBody gives first, then one byte every `every`, `n` times, then EOF;
// with n < 0 it gives first and then blocks until closed: a stalled blob.
type slowBody struct {
	first  string
	every  time.Duration
	n      int
	closed chan struct{}
}

func newSlowBody(first string, every time.Duration, n int) *slowBody {
	return &slowBody{first: first, every: every, n: n, closed: make(chan struct{})}
}

func (b *slowBody) Read(p []byte) (int, error) {
	if b.first != "" {
		n := copy(p, b.first)
		b.first = b.first[n:]
		return n, nil
	}
	if b.n == 0 {
		return 0, io.EOF
	}
	if b.n < 0 {
		<-b.closed
		return 0, errors.New("body closed")
	}
	select {
	case <-time.After(b.every):
	case <-b.closed:
		return 0, errors.New("body closed")
	}
	b.n--
	p[0] = 'x'
	return 1, nil
}

func (b *slowBody) Close() error {
	select {
	case <-b.closed:
	default:
		close(b.closed)
	}
	return nil
}

// fetch runs one GET through a client wrapped by p, reading the body to
// the end, and closes the body when ctx ends as containerd's fetcher
// does on cancellation.
func fetch(ctx context.Context, t *testing.T, p *progress, rt http.RoundTripper) (int, error) {
	t.Helper()
	client := &http.Client{Transport: rt}
	if err := p.updateClient(client); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://registry.invalid/v2/app/blobs/sha256:x", nil)
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	go func() { <-ctx.Done(); resp.Body.Close() }()
	data, err := io.ReadAll(resp.Body)
	return len(data), err
}

func bodyTransport(body io.ReadCloser) http.RoundTripper {
	return roundTripFunc(func(r *http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: 200, Body: body, Request: r, Header: http.Header{}}, nil
	})
}

func TestProgressWatchdog(t *testing.T) {
	const timeout = 150 * time.Millisecond
	for _, tc := range []struct {
		name      string
		transport func() http.RoundTripper
		idle      time.Duration // no request at all for this long
		wantStall bool
		wantBytes uint64
	}{
		{
			name:      "blob stalls after a few bytes",
			transport: func() http.RoundTripper { return bodyTransport(newSlowBody("0123456789", 0, -1)) },
			wantStall: true, wantBytes: 10,
		},
		{
			name: "response headers never come",
			transport: func() http.RoundTripper {
				return roundTripFunc(func(r *http.Request) (*http.Response, error) {
					<-r.Context().Done()
					return nil, r.Context().Err()
				})
			},
			wantStall: true,
		},
		{
			name:      "slow but steady: a byte every third of the timeout",
			transport: func() http.RoundTripper { return bodyTransport(newSlowBody("ab", timeout/3, 12)) },
			wantBytes: 14,
		},
		{
			name: "no request open (unpacking) is not a stall",
			idle: 4 * timeout,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newProgress(time.Now)
			ctx, cancel := context.WithCancelCause(context.Background())
			defer cancel(nil)
			start := time.Now()
			stop := p.watch(ctx, "docker.io/library/app:1", timeout, cancel, discard())
			defer stop()
			if tc.transport != nil {
				n, err := fetch(ctx, t, p, tc.transport())
				t.Logf("read %d bytes, err %v, after %v", n, err, time.Since(start))
			}
			time.Sleep(tc.idle)
			cause := context.Cause(ctx)
			if !tc.wantStall {
				if cause != nil {
					t.Fatalf("pull cancelled: %v", cause)
				}
			} else {
				var se *stallError
				if !errors.As(cause, &se) || !errors.Is(cause, context.DeadlineExceeded) {
					t.Fatalf("cause = %v, want a stallError that is a DeadlineExceeded", cause)
				}
				if took := time.Since(start); took < timeout || took > timeout+time.Second {
					t.Errorf("cancelled after %v with a %v timeout", took, timeout)
				}
				if !strings.Contains(cause.Error(), "docker.io/library/app:1") || !strings.Contains(cause.Error(), "pull_progress_timeout") {
					t.Errorf("message does not say what and why: %v", cause)
				}
			}
			if got := p.bytes.Load(); got != tc.wantBytes {
				t.Errorf("counted %d bytes, want %d", got, tc.wantBytes)
			}
			if got := p.active.Load(); got != 0 {
				t.Errorf("%d requests still counted as open", got)
			}
		})
	}
}

func TestProgressWatchdogOff(t *testing.T) {
	p := newProgress(time.Now)
	ctx, cancel := context.WithCancelCause(context.Background())
	stop := p.watch(ctx, "ref", 0, cancel, discard())
	p.active.Add(1) // a request open for ever
	time.Sleep(100 * time.Millisecond)
	stop()
	if err := context.Cause(ctx); err != nil {
		t.Fatalf("a zero timeout cancelled the pull: %v", err)
	}
}

func TestProgressCountsLayers(t *testing.T) {
	p := newProgress(time.Now)
	layer := func(n byte) ocispec.Descriptor {
		return ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayerGzip, Digest: digest.Digest("sha256:" + digestHex(n))}
	}
	h := p.wrapHandler(images.HandlerFunc(func(_ context.Context, desc ocispec.Descriptor) ([]ocispec.Descriptor, error) {
		if desc.MediaType == ocispec.MediaTypeImageManifest {
			return []ocispec.Descriptor{{MediaType: ocispec.MediaTypeImageConfig}, layer(1), layer(2), layer(3)}, nil
		}
		return nil, nil
	}))
	ctx := context.Background()
	h.Handle(ctx, ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest})
	h.Handle(ctx, ocispec.Descriptor{MediaType: ocispec.MediaTypeImageConfig})
	h.Handle(ctx, layer(1))
	h.Handle(ctx, layer(2))
	if got := p.layersString(); got != "2/3" {
		t.Errorf("layers = %s, want 2/3", got)
	}
}

func digestHex(b byte) string { return strings.Repeat(string("0123456789abcdef"[b%16]), 64) }
