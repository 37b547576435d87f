package sandbox

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/containerd/errdefs"

	"github.com/berth-cri/berth/runtime/handlers"
)

// RunPodSandbox's work runs on a goroutine of its own, so that it outlives
// kubelet's deadline; no request's recovery covers it. A panic there (here:
// a Manager with no containerd client) fails that pod's start with
// Internal, frees its name for the retry, and leaves berthd (this test
// binary) running.
func TestRunSurvivesAPanicInItsDetachedWork(t *testing.T) {
	runc, err := handlers.New(map[string]handlers.Spec{"runc": {Binary: "runc", Runc: true}}, "runc", handlers.Node{})
	if err != nil {
		t.Fatal(err)
	}
	m := NewManager(Config{Handlers: runc, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	for attempt := range 2 {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err := m.Run(ctx, validPod(), "")
		cancel()
		if !errdefs.IsInternal(err) {
			t.Fatalf("attempt %d: Run = %v, want Internal", attempt, err)
		}
	}
}
