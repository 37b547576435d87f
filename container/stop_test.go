package container

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/containerd/errdefs"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// TestAKillThatRacesTheExitIsAStop: a process that exits as it is
// signalled has its task deleted under the kill, which then fails on the
// shim's closed connection; StopContainer must succeed once the exit is
// recorded, and must not wait when containerd itself is down.
func TestAKillThatRacesTheExitIsAStop(t *testing.T) {
	m := NewManager(Config{})
	closed := errors.New("ttrpc: closed")

	c := newContainer(Metadata{ID: "c1"}, Status{State: runtimeapi.ContainerState_CONTAINER_RUNNING})
	go func() {
		time.Sleep(50 * time.Millisecond) // recordExit finishing
		c.markExited()
	}()
	if !m.exitedMeanwhile(context.Background(), c, closed) {
		t.Error("a container that exited while it was killed: the stop failed")
	}

	running := newContainer(Metadata{ID: "c2"}, Status{State: runtimeapi.ContainerState_CONTAINER_RUNNING})
	start := time.Now()
	if m.exitedMeanwhile(context.Background(), running, fmt.Errorf("containerd: %w", errdefs.ErrUnavailable)) {
		t.Error("containerd unavailable counted as an exit")
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("an unavailable containerd made the stop wait %v", d)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if m.exitedMeanwhile(ctx, running, closed) {
		t.Error("a container still running counted as exited")
	}
}
