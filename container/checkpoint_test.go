package container

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	metadata "github.com/checkpoint-restore/checkpointctl/lib"
	"github.com/containerd/containerd/api/types/runc/options"
	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/errdefs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/berth-cri/berth/internal/checkpoint"
	"github.com/berth-cri/berth/internal/handlers"
	"github.com/berth-cri/berth/sandbox"
)

// fakeCRIU answers Check with err and counts the questions.
type fakeCRIU struct {
	err   error
	calls int
}

func (f *fakeCRIU) Check(context.Context) error { f.calls++; return f.err }

var errNoCRIU = fmt.Errorf("CRIU 3.17.1 cannot read this kernel's vDSO layout: %w", errdefs.ErrFailedPrecondition)

type fakeSandboxes struct {
	store    *sandbox.Store
	handlers *handlers.Set
}

func (f fakeSandboxes) Store() *sandbox.Store { return f.store }
func (f fakeSandboxes) Handler(sb *sandbox.Sandbox) (*handlers.Handler, error) {
	return f.handlers.Lookup(sb.RuntimeHandler)
}
func (f fakeSandboxes) RuntimeOpts(*sandbox.Sandbox) (containerd.NewContainerOpts, error) {
	return nil, errdefs.ErrNotImplemented
}

func checkpointManager(t *testing.T, criu CRIU) *Manager {
	t.Helper()
	sandboxes := sandbox.NewStore()
	ready := &sandbox.Sandbox{Metadata: sandbox.Metadata{ID: "ready-sandbox"}}
	ready.Set(func(s sandbox.Status) sandbox.Status {
		s.State, s.Pid = runtimeapi.PodSandboxState_SANDBOX_READY, 42
		return s
	})
	sandboxes.Add(ready.ID, ready)
	notReady := &sandbox.Sandbox{Metadata: sandbox.Metadata{ID: "stopped-sandbox"}}
	notReady.Set(func(s sandbox.Status) sandbox.Status {
		s.State = runtimeapi.PodSandboxState_SANDBOX_NOTREADY
		return s
	})
	sandboxes.Add(notReady.ID, notReady)
	// A pod under Kata, whose shim is not runc's.
	kata := &sandbox.Sandbox{Metadata: sandbox.Metadata{ID: "kata-sandbox", RuntimeHandler: "kata"}}
	kata.Set(func(s sandbox.Status) sandbox.Status {
		s.State, s.Pid = runtimeapi.PodSandboxState_SANDBOX_READY, 43
		return s
	})
	sandboxes.Add(kata.ID, kata)
	set, err := handlers.New(map[string]handlers.Spec{"runc": {Runc: true}, "kata": {Type: "io.containerd.kata.v2"}}, "runc", handlers.Node{})
	if err != nil {
		t.Fatal(err)
	}

	m := NewManager(Config{CRIU: criu, Sandboxes: fakeSandboxes{sandboxes, set}})
	m.store.add(newContainer(Metadata{ID: "running"}, Status{State: runtimeapi.ContainerState_CONTAINER_RUNNING, Pid: 7}))
	m.store.add(newContainer(Metadata{ID: "created"}, Status{State: runtimeapi.ContainerState_CONTAINER_CREATED}))
	m.store.add(newContainer(Metadata{ID: "exited"}, Status{State: runtimeapi.ContainerState_CONTAINER_EXITED}))
	return m
}

func TestCheckpointValidation(t *testing.T) {
	dir := t.TempDir()
	location := filepath.Join(dir, "c.tar")
	for _, tc := range []struct {
		name     string
		id       string
		opts     CheckpointOptions
		want     func(error) bool
		askCRIU  bool
		contains string
	}{
		{"relative location", "running", CheckpointOptions{Location: "c.tar"}, errdefs.IsInvalidArgument, false, "not an absolute path"},
		{"no location", "running", CheckpointOptions{}, errdefs.IsInvalidArgument, false, "location is empty"},
		{"location is a directory", "running", CheckpointOptions{Location: dir}, errdefs.IsInvalidArgument, false, "not a regular file"},
		{"negative timeout", "running", CheckpointOptions{Location: location, Timeout: -1}, errdefs.IsInvalidArgument, false, "negative"},
		{"unknown container", "nope", CheckpointOptions{Location: location}, errdefs.IsNotFound, false, ""},
		{"created container", "created", CheckpointOptions{Location: location}, errdefs.IsFailedPrecondition, false, "only a running container"},
		{"exited container", "exited", CheckpointOptions{Location: location}, errdefs.IsFailedPrecondition, false, "only a running container"},
		{"no CRIU", "running", CheckpointOptions{Location: location}, errdefs.IsFailedPrecondition, true, "vDSO layout"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			criu := &fakeCRIU{err: errNoCRIU}
			m := checkpointManager(t, criu)
			err := m.Checkpoint(context.Background(), tc.id, tc.opts)
			if !tc.want(err) {
				t.Fatalf("Checkpoint = %v, wrong class", err)
			}
			if !strings.Contains(err.Error(), tc.contains) {
				t.Errorf("Checkpoint = %q, want it to say %q", err, tc.contains)
			}
			if asked := criu.calls > 0; asked != tc.askCRIU {
				t.Errorf("CRIU asked: %v, want %v", asked, tc.askCRIU)
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Errorf("a refused checkpoint left %v beside the location", entries)
			}
		})
	}
}

// writeArchive makes a minimal, valid checkpoint archive.
func writeArchive(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	md := checkpoint.Metadata{
		Config: metadata.ContainerConfig{ID: "old", Name: "counter", RootfsImageRef: "busybox@sha256:1234"},
		Spec:   &specs.Spec{Process: &specs.Process{Args: []string{"sh"}}},
	}
	if err := checkpoint.WriteMetadata(dir, md); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, checkpoint.CheckpointDir), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, checkpoint.CheckpointDir, "inventory.img"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	archive := filepath.Join(t.TempDir(), "c.tar")
	if err := checkpoint.WriteArchive(dir, archive); err != nil {
		t.Fatal(err)
	}
	return archive
}

func TestCreateFromCheckpointValidation(t *testing.T) {
	archive := writeArchive(t)
	notArchive := filepath.Join(t.TempDir(), "x.tar")
	if err := os.WriteFile(notArchive, []byte("not a tar, not at all, no"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := func(image string) *runtimeapi.ContainerConfig {
		return &runtimeapi.ContainerConfig{Metadata: &runtimeapi.ContainerMetadata{Name: "counter"}, Image: &runtimeapi.ImageSpec{Image: image}}
	}
	for _, tc := range []struct {
		name     string
		sandbox  string
		image    string
		want     func(error) bool
		askCRIU  bool
		contains string
	}{
		{"missing archive", "ready-sandbox", "/nonexistent/c.tar", errdefs.IsNotFound, false, "/nonexistent/c.tar"},
		{"unclean path", "ready-sandbox", "/tmp/../" + archive, errdefs.IsInvalidArgument, false, "clean"},
		{"not an archive", "ready-sandbox", notArchive, errdefs.IsInvalidArgument, false, "not a tar archive"},
		{"unknown sandbox", "nope", archive, errdefs.IsNotFound, false, ""},
		{"sandbox not ready", "stopped-sandbox", archive, errdefs.IsFailedPrecondition, false, "not ready"},
		{"other command", "ready-sandbox", archive + "#sleep", errdefs.IsInvalidArgument, false, "the checkpoint holds"},
		{"no CRIU", "ready-sandbox", archive, errdefs.IsFailedPrecondition, true, "vDSO layout"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			criu := &fakeCRIU{err: errNoCRIU}
			m := checkpointManager(t, criu)
			c := cfg(tc.image)
			if image, cmd, ok := strings.Cut(tc.image, "#"); ok {
				c = cfg(image)
				c.Command = []string{cmd}
			}
			_, err := m.Create(context.Background(), tc.sandbox, c)
			if !tc.want(err) {
				t.Fatalf("Create = %v, wrong class", err)
			}
			if !strings.Contains(err.Error(), tc.contains) {
				t.Errorf("Create = %q, want it to say %q", err, tc.contains)
			}
			if asked := criu.calls > 0; asked != tc.askCRIU {
				t.Errorf("CRIU asked: %v, want %v", asked, tc.askCRIU)
			}
			if n := len(m.store.List()); n != 3 {
				t.Errorf("store holds %d containers after a refused restore, want the 3 it had", n)
			}
		})
	}
}

func TestCheckpointTaskOptionsKeepTheTaskRunning(t *testing.T) {
	var info containerd.CheckpointTaskInfo
	if err := containerd.WithCheckpointImagePath("/x/checkpoint")(&info); err != nil {
		t.Fatal(err)
	}
	if err := withCheckpointWorkPath("/x/work")(&info); err != nil {
		t.Fatal(err)
	}
	opts, ok := info.Options.(*options.CheckpointOptions)
	if !ok {
		t.Fatalf("checkpoint options are %T, want runc's", info.Options)
	}
	if opts.Exit || opts.WorkPath != "/x/work" || opts.ImagePath != "/x/checkpoint" {
		t.Errorf("checkpoint options = %+v, want a running task, CRIU's images in /x/checkpoint and its work in /x/work", opts)
	}
}

func TestCopyLog(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "0.log")
	if err := os.WriteFile(src, []byte("2026-01-01T00:00:00Z stdout F hello\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(dir, "container.log")
	if err := copyLog(&Metadata{LogPath: src, LogDir: dir}, dst); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(dst); !strings.Contains(string(b), "hello") {
		t.Errorf("copied log = %q", b)
	}
	// No log path, or a log not written yet, is no log in the archive.
	for _, src := range []string{"", filepath.Join(dir, "missing.log")} {
		dst := filepath.Join(t.TempDir(), "container.log")
		if err := copyLog(&Metadata{LogPath: src, LogDir: dir}, dst); err != nil {
			t.Errorf("copyLog(%q) = %v", src, err)
		}
		if _, err := os.Stat(dst); err == nil {
			t.Errorf("copyLog(%q) wrote a log", src)
		}
	}
	// A log swapped for a symlink to a host file does not copy that file
	// into the archive.
	secret := filepath.Join(t.TempDir(), "shadow")
	if err := os.WriteFile(secret, []byte("root:$6$secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "1.log")
	if err := os.Symlink(secret, link); err != nil {
		t.Fatal(err)
	}
	dst = filepath.Join(t.TempDir(), "container.log")
	if err := copyLog(&Metadata{LogPath: link, LogDir: dir}, dst); err == nil {
		t.Error("copyLog followed a symlink")
	}
	if b, _ := os.ReadFile(dst); strings.Contains(string(b), "secret") {
		t.Errorf("a host file was copied into the checkpoint: %q", b)
	}
}
