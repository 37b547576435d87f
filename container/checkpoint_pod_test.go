package container

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metadata "github.com/checkpoint-restore/checkpointctl/lib"
	"github.com/containerd/errdefs"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

func TestCheckpointPodValidation(t *testing.T) {
	withDeadline := func(t *testing.T) context.Context {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		t.Cleanup(cancel)
		return ctx
	}
	for _, tc := range []struct {
		name     string
		ctx      func(*testing.T) context.Context
		opts     func(out string) PodCheckpointOptions
		want     func(error) bool
		askCRIU  bool
		contains string
	}{
		{"no deadline", func(*testing.T) context.Context { return context.Background() },
			func(out string) PodCheckpointOptions {
				return PodCheckpointOptions{SandboxID: "ready-sandbox", OutputPath: out, ContainerIDs: []string{"pod-running"}}
			}, errdefs.IsInvalidArgument, false, "deadline"},
		{"options", withDeadline, func(out string) PodCheckpointOptions {
			return PodCheckpointOptions{SandboxID: "ready-sandbox", OutputPath: out, ContainerIDs: []string{"pod-running"}, Options: map[string]string{"tcp-established": "true"}}
		}, errdefs.IsInvalidArgument, false, "tcp-established"},
		{"relative output", withDeadline, func(string) PodCheckpointOptions {
			return PodCheckpointOptions{SandboxID: "ready-sandbox", OutputPath: "out", ContainerIDs: []string{"pod-running"}}
		}, errdefs.IsInvalidArgument, false, "absolute"},
		{"missing output", withDeadline, func(out string) PodCheckpointOptions {
			return PodCheckpointOptions{SandboxID: "ready-sandbox", OutputPath: filepath.Join(out, "missing"), ContainerIDs: []string{"pod-running"}}
		}, errdefs.IsInvalidArgument, false, "missing"},
		{"no containers", withDeadline, func(out string) PodCheckpointOptions {
			return PodCheckpointOptions{SandboxID: "ready-sandbox", OutputPath: out}
		}, errdefs.IsInvalidArgument, false, "at least one"},
		{"unknown sandbox", withDeadline, func(out string) PodCheckpointOptions {
			return PodCheckpointOptions{SandboxID: "nope", OutputPath: out, ContainerIDs: []string{"pod-running"}}
		}, errdefs.IsNotFound, false, ""},
		{"sandbox not ready", withDeadline, func(out string) PodCheckpointOptions {
			return PodCheckpointOptions{SandboxID: "stopped-sandbox", OutputPath: out, ContainerIDs: []string{"pod-running"}}
		}, errdefs.IsFailedPrecondition, false, "not ready"},
		{"duplicate", withDeadline, func(out string) PodCheckpointOptions {
			return PodCheckpointOptions{SandboxID: "ready-sandbox", OutputPath: out, ContainerIDs: []string{"pod-running", "pod-running"}}
		}, errdefs.IsInvalidArgument, false, "twice"},
		{"other pod's container", withDeadline, func(out string) PodCheckpointOptions {
			return PodCheckpointOptions{SandboxID: "ready-sandbox", OutputPath: out, ContainerIDs: []string{"running"}}
		}, errdefs.IsInvalidArgument, false, "belongs to sandbox"},
		{"not running", withDeadline, func(out string) PodCheckpointOptions {
			return PodCheckpointOptions{SandboxID: "ready-sandbox", OutputPath: out, ContainerIDs: []string{"pod-running", "pod-exited"}}
		}, errdefs.IsFailedPrecondition, false, "only running containers"},
		{"name from before names were checked", withDeadline, func(out string) PodCheckpointOptions {
			return PodCheckpointOptions{SandboxID: "ready-sandbox", OutputPath: out, ContainerIDs: []string{"pod-climbing"}}
		}, errdefs.IsInvalidArgument, false, "container name"},
		{"runtime without runc's shim", withDeadline, func(out string) PodCheckpointOptions {
			return PodCheckpointOptions{SandboxID: "kata-sandbox", OutputPath: out, ContainerIDs: []string{"kata-running"}}
		}, errdefs.IsFailedPrecondition, false, `runtime handler "kata" (io.containerd.kata.v2): checkpoints need io.containerd.runc.v2`},
		{"no CRIU", withDeadline, func(out string) PodCheckpointOptions {
			return PodCheckpointOptions{SandboxID: "ready-sandbox", OutputPath: out, ContainerIDs: []string{"pod-running"}}
		}, errdefs.IsFailedPrecondition, true, "vDSO layout"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			criu := &fakeCRIU{err: errNoCRIU}
			m := checkpointManager(t, criu)
			m.store.add(newContainer(Metadata{ID: "pod-running", SandboxID: "ready-sandbox"}, Status{State: runtimeapi.ContainerState_CONTAINER_RUNNING}))
			m.store.add(newContainer(Metadata{ID: "pod-climbing", SandboxID: "ready-sandbox",
				Config: &runtimeapi.ContainerConfig{Metadata: &runtimeapi.ContainerMetadata{Name: "../../etc/cron.d/x"}}}, Status{State: runtimeapi.ContainerState_CONTAINER_RUNNING}))
			m.store.add(newContainer(Metadata{ID: "pod-exited", SandboxID: "ready-sandbox"}, Status{State: runtimeapi.ContainerState_CONTAINER_EXITED}))
			m.store.add(newContainer(Metadata{ID: "kata-running", SandboxID: "kata-sandbox"}, Status{State: runtimeapi.ContainerState_CONTAINER_RUNNING}))
			out := t.TempDir()
			err := m.CheckpointPod(tc.ctx(t), tc.opts(out))
			if !tc.want(err) {
				t.Fatalf("CheckpointPod = %v, wrong class", err)
			}
			if !strings.Contains(err.Error(), tc.contains) {
				t.Errorf("CheckpointPod = %q, want it to say %q", err, tc.contains)
			}
			if asked := criu.calls > 0; asked != tc.askCRIU {
				t.Errorf("CRIU asked: %v, want %v", asked, tc.askCRIU)
			}
			if entries, _ := os.ReadDir(out); len(entries) != 0 {
				t.Errorf("a refused CheckpointPod left %v in the output directory", entries)
			}
		})
	}

	t.Run("output not empty", func(t *testing.T) {
		m := checkpointManager(t, &fakeCRIU{})
		out := t.TempDir()
		if err := os.WriteFile(filepath.Join(out, "mine"), nil, 0o600); err != nil {
			t.Fatal(err)
		}
		err := m.CheckpointPod(withDeadline(t), PodCheckpointOptions{SandboxID: "ready-sandbox", OutputPath: out, ContainerIDs: []string{"running"}})
		if !errdefs.IsInvalidArgument(err) || !strings.Contains(err.Error(), "not empty") {
			t.Fatalf("CheckpointPod = %v, want InvalidArgument saying not empty", err)
		}
		if _, err := os.Stat(filepath.Join(out, "mine")); err != nil {
			t.Error("the caller's file was removed")
		}
	})
}

func writePodCheckpoint(t *testing.T, containers map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	if _, err := metadata.WriteJSONFile(metadata.CheckpointedPodOptions{Version: 1, Containers: containers}, dir, metadata.PodOptionsFile); err != nil {
		t.Fatal(err)
	}
	cfg := &runtimeapi.PodSandboxConfig{Metadata: &runtimeapi.PodSandboxMetadata{Name: "web", Namespace: "default", Uid: "u1"}}
	if _, err := metadata.WriteJSONFile(cfg, dir, metadata.PodDumpFile); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestReadPodCheckpoint(t *testing.T) {
	dir := writePodCheckpoint(t, map[string]string{"app": "containers/app.tar", "sidecar": "containers/sidecar.tar"})
	pc, err := ReadPodCheckpoint(dir)
	if err != nil {
		t.Fatalf("ReadPodCheckpoint: %v", err)
	}
	if pc.Sandbox.GetMetadata().GetName() != "web" || pc.Archives["app"] != filepath.Join(dir, "containers/app.tar") {
		t.Errorf("ReadPodCheckpoint = %+v", pc)
	}

	escaping := writePodCheckpoint(t, map[string]string{"app": "../../etc/passwd"})
	for name, dir := range map[string]string{
		"relative":       "checkpoint",
		"missing":        filepath.Join(t.TempDir(), "missing"),
		"no pod.options": t.TempDir(),
		"escaping":       escaping,
		"no containers":  writePodCheckpoint(t, map[string]string{}),
	} {
		if _, err := ReadPodCheckpoint(dir); !errdefs.IsInvalidArgument(err) {
			t.Errorf("%s: ReadPodCheckpoint = %v, want InvalidArgument", name, err)
		}
	}
}

func TestMatchPodCheckpoint(t *testing.T) {
	pc := PodCheckpoint{Archives: map[string]string{"app": "/c/app.tar", "sidecar": "/c/sidecar.tar"}}
	cfg := func(name string) *runtimeapi.ContainerConfig {
		return &runtimeapi.ContainerConfig{Metadata: &runtimeapi.ContainerMetadata{Name: name}}
	}
	if err := MatchPodCheckpoint(pc, []*runtimeapi.ContainerConfig{cfg("sidecar"), cfg("app")}); err != nil {
		t.Errorf("MatchPodCheckpoint of the same names = %v", err)
	}
	for name, cfgs := range map[string][]*runtimeapi.ContainerConfig{
		"none":      nil,
		"missing":   {cfg("app")},
		"extra":     {cfg("app"), cfg("sidecar"), cfg("db")},
		"duplicate": {cfg("app"), cfg("app")},
		"unnamed":   {cfg("app"), cfg("")},
	} {
		if err := MatchPodCheckpoint(pc, cfgs); !errdefs.IsInvalidArgument(err) {
			t.Errorf("%s: MatchPodCheckpoint = %v, want InvalidArgument", name, err)
		}
	}
}
