package conntrack

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"
)

// fakeTable records each purge; the first one blocks until release.
type fakeTable struct {
	mu      sync.Mutex
	calls   [][]netip.Addr
	ports   [][]HostPort
	started chan struct{}
	release chan struct{}
	err     error
}

func (f *fakeTable) Purge(ips []netip.Addr, ports []HostPort) error {
	f.mu.Lock()
	first := len(f.calls) == 0
	f.calls = append(f.calls, ips)
	f.ports = append(f.ports, ports)
	f.mu.Unlock()
	if first && f.started != nil {
		close(f.started)
		<-f.release
	}
	return f.err
}

func ip(s string) netip.Addr { return netip.MustParseAddr(s) }

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func TestPurgerMergesWhatArrivesDuringAPurge(t *testing.T) {
	table := &fakeTable{started: make(chan struct{}), release: make(chan struct{})}
	p := NewPurger(table, quiet())
	defer p.Close(context.Background())

	p.Purge([]netip.Addr{ip("10.0.0.1")}, nil)
	<-table.started
	// While the first purge runs, three teardowns ask for theirs.
	p.Purge([]netip.Addr{ip("10.0.0.2")}, nil)
	p.Purge([]netip.Addr{ip("10.0.0.3")}, []HostPort{{Port: 5353}})
	p.Purge([]netip.Addr{ip("10.0.0.4")}, nil)
	close(table.release)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := p.Flush(ctx); err != nil {
		t.Fatalf("Flush: %v", err)
	}

	table.mu.Lock()
	defer table.mu.Unlock()
	if len(table.calls) != 2 {
		t.Fatalf("%d table walks, want 2 (the three requests during the first merged): %v", len(table.calls), table.calls)
	}
	want := []netip.Addr{ip("10.0.0.2"), ip("10.0.0.3"), ip("10.0.0.4")}
	if !slices.Equal(table.calls[1], want) || len(table.ports[1]) != 1 || table.ports[1][0].Port != 5353 {
		t.Errorf("second walk purged %v and ports %v, want %v and port 5353", table.calls[1], table.ports[1], want)
	}
}

func TestPurgerFlushWaitsForEarlierRequestsOnly(t *testing.T) {
	table := &fakeTable{started: make(chan struct{}), release: make(chan struct{})}
	p := NewPurger(table, quiet())
	defer p.Close(context.Background())

	p.Purge([]netip.Addr{ip("10.0.0.1")}, nil)
	<-table.started
	short, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := p.Flush(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Flush during a blocked purge = %v, want the deadline", err)
	}
	close(table.release)
	if err := p.Flush(context.Background()); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	// Nothing asked since: Flush returns at once.
	if err := p.Flush(short); err != nil {
		t.Fatalf("Flush with nothing pending = %v", err)
	}
}

func TestPurgerCloseRunsWhatIsPending(t *testing.T) {
	table := &fakeTable{err: errors.New("netlink: no buffer space")}
	p := NewPurger(table, quiet())
	p.Purge([]netip.Addr{ip("10.0.0.9")}, nil)
	p.Purge(nil, nil) // nothing to purge: not a request
	if err := p.Close(context.Background()); err != nil {
		t.Fatalf("Close: %v", err)
	}
	table.mu.Lock()
	defer table.mu.Unlock()
	var purged []netip.Addr
	for _, c := range table.calls {
		purged = append(purged, c...)
	}
	if !slices.Equal(purged, []netip.Addr{ip("10.0.0.9")}) {
		t.Errorf("purged %v before closing, want 10.0.0.9 once (a failed purge is logged, not retried)", purged)
	}
}
