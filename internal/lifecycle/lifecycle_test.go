package lifecycle

import (
	"sync"
	"testing"
)

func TestEverySubscriberGetsEventsInOrder(t *testing.T) {
	h := NewHub()
	a, b := h.Subscribe(8), h.Subscribe(8)
	for _, k := range []Kind{Created, Started, Stopped, Deleted} {
		h.Publish(Event{Kind: k, ID: "c1"})
	}
	for _, s := range []*Subscription{a, b} {
		for _, want := range []Kind{Created, Started, Stopped, Deleted} {
			e := <-s.C()
			if e.Kind != want || e.ID != "c1" || e.At.IsZero() {
				t.Fatalf("got %v %q at %v, want %v for c1 with a time", e.Kind, e.ID, e.At, want)
			}
		}
	}
}

func TestSlowSubscriberIsCutOffWithoutBlockingOthers(t *testing.T) {
	h := NewHub()
	slow, fast := h.Subscribe(2), h.Subscribe(16)
	for range 3 {
		h.Publish(Event{Kind: Created, ID: "c"}) // the third overflows slow
	}
	n := 0
	for range slow.C() {
		n++
	}
	if n != 2 || !slow.Lost() {
		t.Fatalf("slow subscriber got %d events, lost=%v; want the 2 buffered and lost", n, slow.Lost())
	}
	if len(fast.C()) != 3 || fast.Lost() {
		t.Fatalf("fast subscriber has %d events, lost=%v; want 3, not lost", len(fast.C()), fast.Lost())
	}
	if h.Subscribers() != 1 {
		t.Fatalf("%d subscribers left, want 1", h.Subscribers())
	}
}

func TestCloseIsIdempotentAndRacesPublish(t *testing.T) {
	h := NewHub()
	var wg sync.WaitGroup
	for range 8 {
		s := h.Subscribe(1)
		wg.Add(2)
		go func() { defer wg.Done(); s.Close(); s.Close() }()
		go func() { defer wg.Done(); h.Publish(Event{Kind: Started}) }()
	}
	wg.Wait()
	if h.Subscribers() != 0 {
		t.Fatalf("%d subscribers left after Close", h.Subscribers())
	}
	var nilHub *Hub
	nilHub.Publish(Event{Kind: Deleted}) // must not panic
}
