package images

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/containerd/errdefs"
)

func TestFlightsShareOneRun(t *testing.T) {
	var g flights
	var runs atomic.Int32
	release := make(chan struct{})
	fn := func(ctx context.Context) (Image, error) {
		runs.Add(1)
		<-release
		return Image{ID: "sha256:x"}, nil
	}
	var wg sync.WaitGroup
	results := make(chan string, 5)
	for range 5 {
		wg.Go(func() {
			img, err := g.do(context.Background(), "busybox", fn)
			if err != nil {
				t.Error(err)
			}
			results <- img.ID
		})
	}
	time.Sleep(50 * time.Millisecond) // let every caller join
	close(release)
	wg.Wait()
	close(results)
	for id := range results {
		if id != "sha256:x" {
			t.Errorf("a caller got %q", id)
		}
	}
	if n := runs.Load(); n != 1 {
		t.Errorf("the pull ran %d times for 5 concurrent callers", n)
	}
	// Finished: the next caller runs it again.
	if _, err := g.do(context.Background(), "busybox", func(context.Context) (Image, error) { runs.Add(1); return Image{}, nil }); err != nil {
		t.Fatal(err)
	}
	if n := runs.Load(); n != 2 {
		t.Errorf("a pull after the first finished did not run (%d runs)", n)
	}
}

func TestFlightsOutliveOneCallerNotAll(t *testing.T) {
	var g flights
	started := make(chan struct{})
	fnErr := make(chan error, 1)
	release := make(chan struct{})
	fn := func(ctx context.Context) (Image, error) {
		close(started)
		select {
		case <-ctx.Done():
			fnErr <- ctx.Err()
			return Image{}, ctx.Err()
		case <-release:
			fnErr <- nil
			return Image{ID: "sha256:x"}, nil
		}
	}
	// Two callers; the first gives up (kubelet's timeout), the second
	// still gets the result.
	ctx1, cancel1 := context.WithCancel(context.Background())
	done1 := make(chan error, 1)
	go func() { _, err := g.do(ctx1, "k", fn); done1 <- err }()
	<-started
	done2 := make(chan Image, 1)
	go func() { img, _ := g.do(context.Background(), "k", fn); done2 <- img }()
	time.Sleep(20 * time.Millisecond)
	cancel1()
	if err := <-done1; !errors.Is(err, context.Canceled) {
		t.Fatalf("the caller that gave up got %v", err)
	}
	close(release)
	if img := <-done2; img.ID != "sha256:x" {
		t.Fatalf("the caller still waiting got %+v", img)
	}
	if err := <-fnErr; err != nil {
		t.Fatalf("the pull was cancelled while a caller waited: %v", err)
	}

	// Every caller gone: the pull is cancelled.
	var g2 flights
	started2 := make(chan struct{})
	fn2 := func(ctx context.Context) (Image, error) {
		close(started2)
		<-ctx.Done()
		fnErr <- ctx.Err()
		return Image{}, ctx.Err()
	}
	ctx3, cancel3 := context.WithCancel(context.Background())
	go func() { _, _ = g2.do(ctx3, "k", fn2) }() // cancelled below; its error is not the subject
	<-started2
	cancel3()
	select {
	case err := <-fnErr:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("pull ended with %v", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("the pull went on with nobody waiting")
	}
}

// A pull that panics fails for every waiter; berthd, and the next pull of
// the same image, go on.
func TestFlightsSurviveAPanickingPull(t *testing.T) {
	var g flights
	release := make(chan struct{})
	errs := make(chan error, 2)
	for range 2 {
		go func() {
			_, err := g.do(context.Background(), "busybox", func(context.Context) (Image, error) {
				<-release
				panic("injected")
			})
			errs <- err
		}()
	}
	time.Sleep(20 * time.Millisecond)
	close(release)
	for range 2 {
		if err := <-errs; !errdefs.IsInternal(err) {
			t.Errorf("a waiter of the panicking pull got %v, want Internal", err)
		}
	}
	img, err := g.do(context.Background(), "busybox", func(context.Context) (Image, error) { return Image{ID: "sha256:x"}, nil })
	if err != nil || img.ID != "sha256:x" {
		t.Errorf("the next pull: %v %v", img, err)
	}
}
