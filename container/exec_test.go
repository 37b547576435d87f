package container

import (
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
	err := execFailed(c, "start exec", shimClosed)
	if !errdefs.IsFailedPrecondition(err) {
		t.Fatalf("err = %v, want FailedPrecondition: the container exited", err)
	}
}

func TestExecFailureOfARunningContainerIsReturnedAtOnce(t *testing.T) {
	c := newContainer(Metadata{ID: "c1"}, Status{})
	notFound := errors.New(`OCI runtime exec failed: exec: "nope": executable file not found in $PATH`)
	start := time.Now()
	err := execFailed(c, "start exec", notFound)
	if time.Since(start) > 100*time.Millisecond {
		t.Fatalf("took %s: a failure that is not the exit's must not wait for one", time.Since(start))
	}
	if errdefs.IsFailedPrecondition(err) || !errors.Is(err, notFound) {
		t.Fatalf("err = %v, want the runtime's error, wrapped", err)
	}
}

func TestExecWhoseShimClosedWithoutAnExitKeepsItsError(t *testing.T) {
	c := newContainer(Metadata{ID: "c1"}, Status{})
	start := time.Now()
	err := execFailed(c, "exec", errdefs.ErrNotFound)
	if d := time.Since(start); d < execExitWait {
		t.Fatalf("gave up after %s, want to wait %s for the exit", d, execExitWait)
	}
	if !errdefs.IsNotFound(err) {
		t.Fatalf("err = %v, want NotFound kept", err)
	}
}
