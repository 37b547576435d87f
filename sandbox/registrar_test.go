package sandbox

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

func TestRetryGetsTheSandboxTheFirstRunFinished(t *testing.T) {
	r := newRegistrar()
	first, _, err := r.reserve(context.Background(), "pod_ns_uid_0", "id-1")
	if err != nil || first == nil {
		t.Fatal("first reserve failed", err)
	}
	got := make(chan string)
	go func() {
		_, id, err := r.reserve(context.Background(), "pod_ns_uid_0", "id-2")
		if err != nil {
			t.Error(err)
		}
		got <- id
	}()
	select {
	case id := <-got:
		t.Fatalf("retry returned %q before the first Run finished", id)
	case <-time.After(50 * time.Millisecond):
	}
	r.finish("pod_ns_uid_0", first, nil)
	if id := <-got; id != "id-1" {
		t.Fatalf("retry got %q, want the first sandbox id-1", id)
	}
}

func TestFailedRunFreesTheNameForTheRetry(t *testing.T) {
	r := newRegistrar()
	first, _, _ := r.reserve(context.Background(), "n", "id-1")
	done := make(chan *reservation)
	go func() {
		res, _, _ := r.reserve(context.Background(), "n", "id-2")
		done <- res
	}()
	time.Sleep(20 * time.Millisecond)
	r.finish("n", first, errors.New("cni add failed"))
	res := <-done
	if res == nil || res.id != "id-2" {
		t.Fatalf("the retry should own the name after a failure, got %+v", res)
	}
}

func TestWaitingRetryHonoursItsDeadline(t *testing.T) {
	r := newRegistrar()
	if _, _, err := r.reserve(context.Background(), "n", "id-1"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	if _, _, err := r.reserve(ctx, "n", "id-2"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("want DeadlineExceeded, got %v", err)
	}
}

func TestConcurrentReservesHaveOneOwner(t *testing.T) {
	r := newRegistrar()
	var wg sync.WaitGroup
	owners := make(chan string, 50)
	ids := make(chan string, 50)
	var ownerRes *reservation
	var mu sync.Mutex
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			res, id, err := r.reserve(context.Background(), "same", string(rune('a'+i)))
			if err != nil {
				t.Error(err)
				return
			}
			if res != nil {
				mu.Lock()
				ownerRes = res
				mu.Unlock()
				owners <- res.id
				r.finish("same", res, nil)
				return
			}
			ids <- id
		}(i)
	}
	wg.Wait()
	close(owners)
	close(ids)
	if len(owners) != 1 {
		t.Fatalf("%d owners of one name", len(owners))
	}
	for id := range ids {
		if id != ownerRes.id {
			t.Fatalf("a waiter got %q, the owner is %q", id, ownerRes.id)
		}
	}
}

func TestReleaseOnlyFreesTheHolder(t *testing.T) {
	r := newRegistrar()
	r.restore("n", "id-1")
	r.release("n", "id-other")
	_, id, _ := r.reserve(context.Background(), "n", "id-2")
	if id != "id-1" {
		t.Fatalf("release by a non-holder freed the name")
	}
	r.release("n", "id-1")
	if res, _, _ := r.reserve(context.Background(), "n", "id-3"); res == nil {
		t.Fatal("name not free after release")
	}
}
