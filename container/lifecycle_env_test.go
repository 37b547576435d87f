package container

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/containerd/errdefs"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/berth-cri/berth/internal/handlers"
	"github.com/berth-cri/berth/internal/lifecycle"
	"github.com/berth-cri/berth/sandbox"
)

// env is a container Manager over fakes: containerd (fakeContainerd),
// one ready pod sandbox, one image. Its state and log directories are the
// test's; nothing needs root.
type env struct {
	t      *testing.T
	f      *fakeContainerd
	m      *Manager
	sb     *sandbox.Sandbox
	sbs    podSandboxes
	state  string
	logDir string
	events *lifecycle.Hub
}

const (
	testImage = "busybox"
	// testChainID is the image's one layer.
	testChainID = digest.Digest("sha256:3333333333333333333333333333333333333333333333333333333333333333")
)

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{
		t:      t,
		f:      newFakeContainerd(t),
		sbs:    podSandboxes{store: sandbox.NewStore()},
		state:  t.TempDir(),
		logDir: t.TempDir(),
		events: lifecycle.NewHub(),
	}
	e.sb = &sandbox.Sandbox{Metadata: sandbox.Metadata{
		ID:   "sb1",
		Name: "pod_ns_uid-1_0",
		Config: &runtimeapi.PodSandboxConfig{
			Metadata:     &runtimeapi.PodSandboxMetadata{Name: "pod", Namespace: "ns", Uid: "uid-1"},
			LogDirectory: e.logDir,
			Linux: &runtimeapi.LinuxPodSandboxConfig{
				CgroupParent:    "/berth-unit-test/pod-uid-1",
				SecurityContext: &runtimeapi.LinuxSandboxSecurityContext{},
			},
		},
		NetNSPath: "/run/berth-unit-test/netns/sb1",
		Dir:       t.TempDir(),
	}}
	e.setSandbox(runtimeapi.PodSandboxState_SANDBOX_READY)
	e.sbs.store.Add(e.sb.ID, e.sb)
	e.m = e.manager()
	return e
}

// manager returns a new Manager over the same containerd and sandboxes:
// berthd as it comes back after a restart.
func (e *env) manager() *Manager {
	return NewManager(Config{
		Containerd: e.f.roles(),
		Sandboxes:  e.sbs,
		Images:     fakeImages{},
		State:      e.state,
		Logger:     slog.New(slog.DiscardHandler),
		Events:     e.events,
	})
}

// restart is berthd dying and coming back: a new Manager, whose Recover
// the caller runs, and the old one's waits on exits dropped.
func (e *env) restart() *Manager {
	e.f.restart()
	e.m = e.manager()
	return e.m
}

func (e *env) setSandbox(state runtimeapi.PodSandboxState) {
	e.sb.Set(func(s sandbox.Status) sandbox.Status {
		s.State, s.Pid = state, 1<<30
		return s
	})
}

// ctx is a request's context, in Berth's containerd namespace.
func (e *env) ctx() context.Context {
	return namespaces.WithNamespace(e.t.Context(), "berth")
}

// config is a CRI container config as kubelet sends it.
func config(name string, attempt uint32) *runtimeapi.ContainerConfig {
	return &runtimeapi.ContainerConfig{
		Metadata: &runtimeapi.ContainerMetadata{Name: name, Attempt: attempt},
		Image:    &runtimeapi.ImageSpec{Image: testImage},
		Command:  []string{"/bin/app"},
		LogPath:  filepath.Join(name, strconv.FormatUint(uint64(attempt), 10)+".log"),
		Linux: &runtimeapi.LinuxContainerConfig{
			SecurityContext: &runtimeapi.LinuxContainerSecurityContext{},
		},
	}
}

// create creates a container named name, or fails the test.
func (e *env) create(name string) string {
	e.t.Helper()
	id, err := e.m.Create(e.ctx(), e.sb.ID, config(name, 0))
	if err != nil {
		e.t.Fatalf("CreateContainer %s: %v", name, err)
	}
	return id
}

// run creates and starts a container, and waits until its RUNNING status
// is recorded in containerd.
func (e *env) run(name string) (string, *fakeTask) {
	e.t.Helper()
	id := e.create(name)
	if err := e.m.Start(e.ctx(), id); err != nil {
		e.t.Fatalf("StartContainer %s: %v", name, err)
	}
	e.eventually("RUNNING recorded in containerd", func() bool {
		st := e.f.storedStatus(e.t, id)
		return st != nil && st.State == runtimeapi.ContainerState_CONTAINER_RUNNING
	})
	return id, e.f.task(id)
}

func (e *env) container(id string) *Container {
	e.t.Helper()
	c, err := e.m.Store().Get(id)
	if err != nil {
		e.t.Fatalf("container %s: %v", id, err)
	}
	return c
}

// waitExited waits until container id's exit is recorded.
func (e *env) waitExited(id string) Status {
	e.t.Helper()
	c := e.container(id)
	select {
	case <-c.Exited():
	case <-time.After(10 * time.Second):
		e.t.Fatalf("container %s: no exit recorded; status %+v", id, c.Status())
	}
	return c.Status()
}

func (e *env) eventually(what string, cond func() bool) {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			e.t.Fatalf("never happened: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// fifos lists what is left in container id's fifo directory.
func (e *env) fifos(id string) []string {
	entries, _ := os.ReadDir(e.m.fifoDir(id))
	var names []string
	for _, d := range entries {
		names = append(names, d.Name())
	}
	return names
}

// stateDirs lists the containers that have a state directory.
func (e *env) stateDirs() []string {
	entries, _ := os.ReadDir(filepath.Join(e.state, "containers"))
	var names []string
	for _, d := range entries {
		names = append(names, d.Name())
	}
	return names
}

// assertGone checks that nothing is left of container id: not in the
// store, nothing in containerd, no state directory, and its name free
// (a container of the same name can be created).
func (e *env) assertGone(id, name string) {
	e.t.Helper()
	if _, err := e.m.Store().Get(id); !errdefs.IsNotFound(err) {
		e.t.Errorf("container %s still listed (%v)", id, err)
	}
	if left := e.f.leftOf(id); len(left) > 0 {
		e.t.Errorf("containerd still holds of %s: %q", id, left)
	}
	if _, err := os.Stat(filepath.Dir(e.m.fifoDir(id))); !os.IsNotExist(err) {
		e.t.Errorf("state directory of %s left (%v)", id, err)
	}
	again, err := e.m.Create(e.ctx(), e.sb.ID, config(name, 0))
	if err != nil {
		e.t.Errorf("creating %s again: %v (name still reserved?)", name, err)
		return
	}
	if err := e.m.Remove(e.ctx(), again); err != nil {
		e.t.Errorf("removing the second %s: %v", name, err)
	}
}

type podSandboxes struct{ store *sandbox.Store }

func (s podSandboxes) Store() *sandbox.Store { return s.store }

func (podSandboxes) RuntimeOpts(*sandbox.Sandbox) (containerd.NewContainerOpts, error) {
	return containerd.WithRuntime("io.containerd.runc.v2", nil), nil
}

func (podSandboxes) Handler(*sandbox.Sandbox) (*handlers.Handler, error) {
	return nil, errdefs.ErrNotImplemented
}

// fakeImages knows one image, testImage, already unpacked.
type fakeImages struct{}

func (fakeImages) Get(_ context.Context, ref string) (Image, error) {
	if ref != testImage {
		return Image{}, errdefs.ErrNotFound
	}
	return Image{
		ID:          "sha256:1111111111111111111111111111111111111111111111111111111111111111",
		RepoDigests: []string{"docker.io/library/busybox@sha256:2222222222222222222222222222222222222222222222222222222222222222"},
		RepoTags:    []string{"docker.io/library/busybox:latest"},
		Config:      ocispec.ImageConfig{Cmd: []string{"sh"}},
		ChainID:     testChainID.String(),
		Containerd:  fakeImage{name: "docker.io/library/busybox:latest"},
	}, nil
}

// fakeImage is the containerd image Create names in the record and looks
// at when its snapshot cannot be prepared from the chain ID: unpacked,
// one layer.
type fakeImage struct {
	containerd.Image
	name string
}

func (i fakeImage) Name() string { return i.name }

func (fakeImage) IsUnpacked(context.Context, string) (bool, error) { return true, nil }

func (fakeImage) RootFS(context.Context) ([]digest.Digest, error) {
	return []digest.Digest{testChainID}, nil
}
