package sandbox

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/containerd/errdefs"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/berth-cri/berth/internal/handlers"
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
	// Its files under temporary directories, and no namespace or /dev/shm
	// of its own (the node's network and IPC): the panic leaves what was
	// half-made as it found it, and that must not be a mount.
	m := NewManager(Config{Handlers: runc, Root: t.TempDir(), State: t.TempDir(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	pod := validPod()
	pod.Linux.Sysctls = nil
	pod.Linux.SecurityContext.NamespaceOptions = &runtimeapi.NamespaceOption{Network: runtimeapi.NamespaceMode_NODE, Ipc: runtimeapi.NamespaceMode_NODE}
	for attempt := range 2 {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err := m.Run(ctx, pod, "")
		cancel()
		if !errdefs.IsInternal(err) {
			t.Fatalf("attempt %d: Run = %v, want Internal", attempt, err)
		}
	}
}
