package container

import (
	"testing"
	"time"
)

// TestPodShimsLock: a task create and a task delete of one pod exclude each
// other; another pod's go on; the table of locks empties when unused.
func TestPodShimsLock(t *testing.T) {
	var p podShims
	unlockA := p.lock("pod-a")

	otherPod := make(chan struct{})
	go func() { p.lock("pod-b")(); close(otherPod) }()
	select {
	case <-otherPod:
	case <-time.After(5 * time.Second):
		t.Fatal("pod-b waited for pod-a's lock")
	}

	samePod := make(chan struct{})
	go func() { p.lock("pod-a")(); close(samePod) }()
	select {
	case <-samePod:
		t.Fatal("a second user of pod-a's lock got it while the first held it")
	case <-time.After(100 * time.Millisecond):
	}
	unlockA()
	select {
	case <-samePod:
	case <-time.After(5 * time.Second):
		t.Fatal("pod-a's second user did not get the lock after the first let go")
	}

	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.locks) != 0 {
		t.Errorf("locks left after every user let go: %v", p.locks)
	}
}
