package container

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/containerd/errdefs"
	"github.com/containerd/ttrpc"
)

// What kubelet sees when its exec probe races StopContainer: the pod's
// shim closes under the exec once the task is deleted, and the container's
// exit is recorded just after.
func TestExecThatRacedTheExitSaysTheContainerIsNotRunning(t *testing.T) {
	c := newContainer(Metadata{ID: "c1"}, Status{})
	go func() { time.Sleep(50 * time.Millisecond); c.markExited() }()
	// As containerd's gRPC answer carries the shim's error: its text only.
	shimClosed := fmt.Errorf("rpc error: code = Unknown desc = %s", ttrpc.ErrClosed)
	err := (*Manager)(nil).execFailed(context.Background(), c, "start exec", shimClosed)
	if !errdefs.IsFailedPrecondition(err) {
		t.Fatalf("err = %v, want FailedPrecondition: the container exited", err)
	}
}

func TestExecFailureOfARunningContainerIsReturnedAtOnce(t *testing.T) {
	c := newContainer(Metadata{ID: "c1"}, Status{})
	notFound := errors.New(`OCI runtime exec failed: exec: "nope": executable file not found in $PATH`)
	start := time.Now()
	err := (*Manager)(nil).execFailed(context.Background(), c, "start exec", notFound)
	if time.Since(start) > 100*time.Millisecond {
		t.Fatalf("took %s: a failure that is not the exit's must not wait for one", time.Since(start))
	}
	if errdefs.IsFailedPrecondition(err) || !errors.Is(err, notFound) {
		t.Fatalf("err = %v, want the runtime's error, wrapped", err)
	}
}

func TestExecWhoseShimClosedWithoutAnExitKeepsItsError(t *testing.T) {
	c := newContainer(Metadata{ID: "c1"}, Status{})
	// kubelet's probe timeout ends the wait for an exit that does not come.
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := (*Manager)(nil).execFailed(ctx, c, "exec", errdefs.ErrNotFound)
	if d := time.Since(start); d < 100*time.Millisecond {
		t.Fatalf("gave up after %s, want to wait for the exit until the caller's deadline", d)
	}
	if !errdefs.IsNotFound(err) {
		t.Fatalf("err = %v, want NotFound kept", err)
	}
}
