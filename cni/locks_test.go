package cni

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

func TestIDLocksSerialiseOneIDOnly(t *testing.T) {
	var l idLocks
	ctx := context.Background()

	unlockA, err := l.lock(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}

	// Another ID is not blocked by a.
	unlockB, err := l.lock(ctx, "b")
	if err != nil {
		t.Fatalf("lock(b) while a is held: %v", err)
	}
	unlockB()

	// The same ID waits until a is released.
	var gotA atomic.Bool
	done := make(chan struct{})
	go func() {
		defer close(done)
		unlock, err := l.lock(ctx, "a")
		if err != nil {
			t.Error(err)
			return
		}
		gotA.Store(true)
		unlock()
	}()
	time.Sleep(50 * time.Millisecond)
	if gotA.Load() {
		t.Fatal("a second lock(a) got the lock while the first was held")
	}
	unlockA()
	<-done
	if !gotA.Load() {
		t.Fatal("the waiter never got the lock")
	}

	if n := len(l.locks); n != 0 {
		t.Errorf("%d lock entries left after every holder let go", n)
	}
}

func TestIDLocksWaitingHonoursTheContext(t *testing.T) {
	var l idLocks
	unlock, err := l.lock(context.Background(), "a")
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := l.lock(ctx, "a"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("lock with an expiring context = %v, want DeadlineExceeded", err)
	}
	if l.locks["a"].refs != 1 {
		t.Errorf("the timed-out waiter left a reference behind: refs = %d", l.locks["a"].refs)
	}
}
