package container

import (
	"context"
	"errors"
	"testing"

	eventstypes "github.com/containerd/containerd/api/events"
	"github.com/containerd/containerd/v2/core/events"
	"github.com/containerd/typeurl/v2"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// TestOOMEventMarksTheContainerWhicheverComesFirst: a shim's OOM event
// makes the container's exit OOMKilled whether it arrives before the exit
// is recorded (the cgroup may be gone by then, under systemd) or after.
func TestOOMEventMarksTheContainerWhicheverComesFirst(t *testing.T) {
	m := NewManager(Config{})
	running := newContainer(Metadata{ID: "running"}, Status{State: runtimeapi.ContainerState_CONTAINER_RUNNING})
	exited := newContainer(Metadata{ID: "exited"}, Status{State: runtimeapi.ContainerState_CONTAINER_EXITED, ExitCode: 137, Reason: ReasonError})
	m.store.add(running)
	m.store.add(exited)

	// Before the exit: delivered as containerd delivers it, then the
	// stream ends. Unbuffered, the end comes only once the event was taken
	// (a select between two ready channels picks either).
	evs, errs := make(chan *events.Envelope), make(chan error)
	ev, err := typeurl.MarshalAny(&eventstypes.TaskOOM{ContainerID: "running"})
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		evs <- &events.Envelope{Topic: taskOOMTopic, Namespace: "berth", Event: ev}
		errs <- errors.New("stream closed")
	}()
	m.receiveOOM(context.Background(), evs, errs)
	if !running.oomSeen.Load() {
		t.Fatal("the OOM event did not mark the running container")
	}
	if r := running.Status().Reason; r != "" {
		t.Errorf("a running container's reason became %q", r)
	}
	if got := exitReason(137, running.oomSeen.Load()); got != ReasonOOMKilled {
		t.Errorf("its exit would be recorded as %q, want OOMKilled", got)
	}

	// After the exit: the recorded reason is corrected.
	if c, corrected := m.oomReported("exited"); c != exited || !corrected || exited.Status().Reason != ReasonOOMKilled {
		t.Errorf("an exit recorded before the event: corrected %v, reason %q; want OOMKilled", corrected, exited.Status().Reason)
	}
	if _, corrected := m.oomReported("exited"); corrected {
		t.Error("a second event corrected it again")
	}
	// The pause, or a container already removed.
	if c, _ := m.oomReported("sandbox"); c != nil {
		t.Error("an unknown ID was marked")
	}
}

func TestExitReason(t *testing.T) {
	for _, tc := range []struct {
		code int32
		oom  bool
		want string
	}{{0, false, ReasonCompleted}, {1, false, ReasonError}, {137, true, ReasonOOMKilled}, {0, true, ReasonOOMKilled}} {
		if got := exitReason(tc.code, tc.oom); got != tc.want {
			t.Errorf("exitReason(%d, %v) = %q, want %q", tc.code, tc.oom, got, tc.want)
		}
	}
}
