package container

import (
	"bytes"
	"io"
	"sync"
	"testing"
	"time"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// blockedWriter never returns from Write until released: a client that
// stopped reading.
type blockedWriter struct{ release chan struct{} }

func (b blockedWriter) Write(p []byte) (int, error) { <-b.release; return len(p), nil }

func TestFanoutDeliversInOrderAndSurvivesAStuckClient(t *testing.T) {
	var log, fast syncBuffer
	f := &fanout{}
	w := f.in(&log)
	stuck := blockedWriter{release: make(chan struct{})}
	defer close(stuck.release)
	fc := f.add(&fast)
	f.add(stuck)

	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := []byte("x\n")
		for i := 0; i < 10*attachQueue; i++ {
			_, _ = w.Write(buf)
			buf[0] = 'y' // the fanout must have copied
		}
	}()
	select {
	case <-done:
	case <-time.After(attachStall + 5*time.Second):
		t.Fatal("a stuck client stalled the container's output")
	}
	f.remove(fc)
	if got := log.String(); len(got) != 20*attachQueue {
		t.Fatalf("the log got %d bytes, want %d", len(got), 20*attachQueue)
	}
	if got := fast.String(); got[:4] != "x\ny\n" || len(got) != 20*attachQueue {
		t.Fatalf("the attached client got %d bytes starting %q", len(got), got[:4])
	}
	f.close()
	if f.add(io.Discard) != nil {
		t.Fatal("attached after close")
	}
}
