package sandbox

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestInflightWaitsForWorkUnderWay(t *testing.T) {
	var f inflight
	if err := f.wait(context.Background()); err != nil {
		t.Fatalf("wait with nothing under way: %v", err)
	}
	f.add()
	f.add()
	short, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	if err := f.wait(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("wait with two under way = %v, want the deadline", err)
	}
	f.done()
	waited := make(chan error, 1)
	go func() { waited <- f.wait(context.Background()) }()
	select {
	case err := <-waited:
		t.Fatalf("wait returned (%v) with one still under way", err)
	case <-time.After(30 * time.Millisecond):
	}
	f.done()
	if err := <-waited; err != nil {
		t.Fatalf("wait after the last done: %v", err)
	}
	// And again from zero.
	f.add()
	f.done()
	if err := f.wait(context.Background()); err != nil {
		t.Fatalf("wait after a second round: %v", err)
	}
}
