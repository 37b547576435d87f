package integration

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/containerd/nri/pkg/api"
	"github.com/containerd/nri/pkg/stub"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/berth-cri/berth/test/harness"
)

// recorder is a real NRI plugin, connected to berthd's NRI socket over
// ttrpc through nri's stub: it records every event it is told and lets a
// test adjust or refuse containers.
type recorder struct {
	mu       sync.Mutex
	events   []string // "Event pod-or-container-id"
	syncPods []string
	syncCtrs []string
	// stopNetNS is the network namespace each StopPodSandbox showed.
	stopNetNS map[string]string
	ready     chan struct{}
	readyOnce sync.Once
	// onCreate, when set, answers CreateContainer.
	onCreate func(*api.Container) (*api.ContainerAdjustment, error)
	// onRun, when set, answers RunPodSandbox.
	onRun func(*api.PodSandbox) error
}

func (r *recorder) record(event, id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, event+" "+id)
}

// eventsOf is what the plugin was told about these IDs, in order.
func (r *recorder) eventsOf(ids ...string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, e := range r.events {
		_, id, _ := strings.Cut(e, " ")
		if slices.Contains(ids, id) {
			out = append(out, e)
		}
	}
	return out
}

func (r *recorder) Synchronize(_ context.Context, pods []*api.PodSandbox, ctrs []*api.Container) ([]*api.ContainerUpdate, error) {
	r.mu.Lock()
	for _, p := range pods {
		r.syncPods = append(r.syncPods, p.GetId())
	}
	for _, c := range ctrs {
		r.syncCtrs = append(r.syncCtrs, c.GetId())
	}
	r.mu.Unlock()
	r.readyOnce.Do(func() { close(r.ready) })
	return nil, nil
}

func (r *recorder) RunPodSandbox(_ context.Context, pod *api.PodSandbox) error {
	r.record("RunPodSandbox", pod.GetId())
	if r.onRun != nil {
		return r.onRun(pod)
	}
	return nil
}

func (r *recorder) StopPodSandbox(_ context.Context, pod *api.PodSandbox) error {
	r.record("StopPodSandbox", pod.GetId())
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopNetNS == nil {
		r.stopNetNS = map[string]string{}
	}
	for _, ns := range pod.GetLinux().GetNamespaces() {
		if ns.GetType() == "network" {
			r.stopNetNS[pod.GetId()] = ns.GetPath()
		}
	}
	return nil
}

func (r *recorder) RemovePodSandbox(_ context.Context, pod *api.PodSandbox) error {
	r.record("RemovePodSandbox", pod.GetId())
	return nil
}

func (r *recorder) CreateContainer(_ context.Context, _ *api.PodSandbox, c *api.Container) (*api.ContainerAdjustment, []*api.ContainerUpdate, error) {
	r.record("CreateContainer", c.GetId())
	if r.onCreate != nil {
		adj, err := r.onCreate(c)
		return adj, nil, err
	}
	return nil, nil, nil
}

func (r *recorder) PostCreateContainer(_ context.Context, _ *api.PodSandbox, c *api.Container) error {
	r.record("PostCreateContainer", c.GetId())
	return nil
}

func (r *recorder) StartContainer(_ context.Context, _ *api.PodSandbox, c *api.Container) error {
	r.record("StartContainer", c.GetId())
	return nil
}

func (r *recorder) PostStartContainer(_ context.Context, _ *api.PodSandbox, c *api.Container) error {
	r.record("PostStartContainer", c.GetId())
	return nil
}

func (r *recorder) StopContainer(_ context.Context, _ *api.PodSandbox, c *api.Container) ([]*api.ContainerUpdate, error) {
	r.record("StopContainer", c.GetId())
	return nil, nil
}

func (r *recorder) RemoveContainer(_ context.Context, _ *api.PodSandbox, c *api.Container) error {
	r.record("RemoveContainer", c.GetId())
	return nil
}

// startNRI runs berthd with NRI enabled and busybox pulled.
func startNRI(t *testing.T) (*harness.Daemon, string) {
	t.Helper()
	reg := harness.StartRegistry(t)
	d := harness.Start(t, harness.WithRegistryConfigDir(reg.HostsDir), harness.WithArgs("--enable-nri"),
		harness.WithConfig(`[nri]
plugin_path = "/nonexistent/nri-plugins"
`))
	return d, mustPull(t, d, busyboxRef)
}

// connectPlugin connects r to d's NRI socket and waits until berthd has
// synchronised it; stop disconnects it (also at the end of the test).
func connectPlugin(t *testing.T, d *harness.Daemon, name string, r *recorder) (stop func()) {
	t.Helper()
	_, stop = connectPluginStub(t, d, name, r)
	return stop
}

func connectPluginStub(t *testing.T, d *harness.Daemon, name string, r *recorder) (_ stub.Stub, stop func()) {
	t.Helper()
	r.ready = make(chan struct{})
	s, err := stub.New(r, stub.WithPluginName(name), stub.WithPluginIdx("10"),
		stub.WithSocketPath(filepath.Join(d.State, "nri.sock")))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	select {
	case <-r.ready:
	case err := <-done:
		cancel()
		t.Fatalf("NRI plugin %s stopped before it was synchronised: %v", name, err)
	case <-time.After(15 * time.Second):
		cancel()
		t.Fatalf("NRI plugin %s was not synchronised in 15s", name)
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			s.Stop()
			<-done //nolint:errcheck // stopped just above; how it ended is not the subject
		})
	}
	t.Cleanup(stop)
	return s, stop
}

func TestNRIPluginIsToldAPodsLifeInOrder(t *testing.T) {
	d, image := startNRI(t)
	r := &recorder{}
	connectPlugin(t, d, "recorder", r)

	cfg := podConfig()
	ctx := ctxBG(t)
	run, err := d.Runtime.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	podID := run.PodSandboxId
	stopped := createContainer(t, d, podID, cfg, ctrConfig(image))
	startContainer(t, d, stopped)
	if _, err := d.Runtime.StopContainer(ctx, &runtimeapi.StopContainerRequest{ContainerId: stopped, Timeout: 5}); err != nil {
		t.Fatal(err)
	}
	// A process that exits on its own is told as stopped too, and once.
	exited := createContainer(t, d, podID, cfg, ctrConfig(image, withShell("exit 3")))
	startContainer(t, d, exited)
	waitExited(t, d, exited, 20*time.Second)
	for _, id := range []string{stopped, exited} {
		if _, err := d.Runtime.RemoveContainer(ctx, &runtimeapi.RemoveContainerRequest{ContainerId: id}); err != nil {
			t.Fatal(err)
		}
	}
	for range 2 { // the second Stop is not told again
		if _, err := d.Runtime.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: podID}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := d.Runtime.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: podID}); err != nil {
		t.Fatal(err)
	}

	want := []string{
		"RunPodSandbox " + podID,
		"CreateContainer " + stopped, "PostCreateContainer " + stopped,
		"StartContainer " + stopped, "PostStartContainer " + stopped,
		"StopContainer " + stopped,
		"CreateContainer " + exited, "PostCreateContainer " + exited,
		"StartContainer " + exited, "PostStartContainer " + exited,
		"StopContainer " + exited,
		"RemoveContainer " + stopped, "RemoveContainer " + exited,
		"StopPodSandbox " + podID, "RemovePodSandbox " + podID,
	}
	if got := r.eventsOf(podID, stopped, exited); !slices.Equal(got, want) {
		t.Fatalf("the plugin was told\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if got := r.stopNetNS[podID]; got != netnsPath(d, podID) {
		t.Fatalf("StopPodSandbox showed the network namespace %q, want %q: the pod's network is still up then", got, netnsPath(d, podID))
	}
}

func TestNRIRemoveWithoutStopIsToldAsAStopThenARemoval(t *testing.T) {
	d, image := startNRI(t)
	r := &recorder{}
	connectPlugin(t, d, "recorder", r)
	cfg := podConfig()
	ctx := ctxBG(t)
	run, err := d.Runtime.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	podID := run.PodSandboxId
	resp, err := d.Runtime.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{PodSandboxId: podID, Config: ctrConfig(image), SandboxConfig: cfg})
	if err != nil {
		t.Fatal(err)
	}
	id := resp.ContainerId
	startContainer(t, d, id)
	if _, err := d.Runtime.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: podID}); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"RunPodSandbox " + podID,
		"CreateContainer " + id, "PostCreateContainer " + id, "StartContainer " + id, "PostStartContainer " + id,
		"StopContainer " + id, "RemoveContainer " + id,
		"StopPodSandbox " + podID, "RemovePodSandbox " + podID,
	}
	if got := r.eventsOf(podID, id); !slices.Equal(got, want) {
		t.Fatalf("the plugin was told\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopNetNS[podID] == "" {
		t.Fatal("StopPodSandbox of a removed pod showed no network namespace: it was told after the network was gone")
	}
}

func TestNRIAdjustmentReachesTheContainerAndLatePluginsAreSynchronised(t *testing.T) {
	d, image := startNRI(t)
	r := &recorder{onCreate: func(c *api.Container) (*api.ContainerAdjustment, error) {
		adj := &api.ContainerAdjustment{}
		adj.AddEnv("NRI_ADJUSTED", "by-"+c.GetName())
		return adj, nil
	}}
	connectPlugin(t, d, "adjuster", r)

	podID, cfg := runPod(t, d)
	ctr := ctrConfig(image)
	id := createContainer(t, d, podID, cfg, ctr)
	startContainer(t, d, id)
	if got := strings.TrimSpace(mustExec(t, d, id, "sh", "-c", "echo $NRI_ADJUSTED")); got != "by-"+ctr.Metadata.Name {
		t.Fatalf("NRI_ADJUSTED in the container = %q, want the plugin's %q", got, "by-"+ctr.Metadata.Name)
	}

	// A plugin that connects now finds the pod and the running container.
	late := &recorder{}
	connectPlugin(t, d, "late", late)
	late.mu.Lock()
	pods, ctrs := late.syncPods, late.syncCtrs
	late.mu.Unlock()
	if !slices.Contains(pods, podID) || !slices.Contains(ctrs, id) {
		t.Fatalf("a late plugin was synchronised with pods %v and containers %v, want %s and %s", pods, ctrs, podID, id)
	}
}

func TestNRIPluginRefusalFailsTheRequestAndLeavesNothing(t *testing.T) {
	d, image := startNRI(t)
	r := &recorder{
		onCreate: func(*api.Container) (*api.ContainerAdjustment, error) {
			return nil, errors.New("no room on this node")
		},
		onRun: func(pod *api.PodSandbox) error {
			if pod.GetName() == "refused" {
				return errors.New("pod refused")
			}
			return nil
		},
	}
	stop := connectPlugin(t, d, "refuser", r)
	ctx := ctxBG(t)

	// A refused RunPodSandbox leaves no sandbox, namespace or network.
	refused := podConfig(func(c *runtimeapi.PodSandboxConfig) { c.Metadata.Name, c.Metadata.Uid = "refused", "uid-refused" })
	fi, err := os.Stat(filepath.Join(d.State, "nri.sock"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("the NRI socket's mode is %v, want root's alone (0600)", fi.Mode().Perm())
	}
	if _, err := d.Runtime.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: refused}); err == nil || !strings.Contains(err.Error(), "pod refused") {
		t.Fatalf("RunPodSandbox refused by a plugin: err = %v, want the plugin's reason", err)
	}
	pods, err := d.Runtime.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(pods.Items) != 0 {
		t.Fatalf("a refused sandbox is listed: %v", pods.Items)
	}
	if left := leftovers(t, d, nil, nil); len(left) > 0 {
		t.Fatalf("a refused RunPodSandbox left %v", left)
	}

	podID, cfg := runPod(t, d)
	ctr := ctrConfig(image)
	_, err = d.Runtime.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{PodSandboxId: podID, Config: ctr, SandboxConfig: cfg})
	if err == nil || !strings.Contains(err.Error(), "no room on this node") {
		t.Fatalf("CreateContainer refused by a plugin: err = %v, want the plugin's reason", err)
	}
	list, err := d.Runtime.ListContainers(ctx, &runtimeapi.ListContainersRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Containers) != 0 {
		t.Fatalf("a refused container is listed: %v", list.Containers)
	}
	if dirs, _ := os.ReadDir(filepath.Join(d.State, "containers")); len(dirs) != 0 {
		t.Fatalf("a refused container left state behind: %v", dirs)
	}
	r.mu.Lock()
	told := slices.Clone(r.events)
	r.mu.Unlock()
	if !slices.ContainsFunc(told, func(e string) bool { return strings.HasPrefix(e, "CreateContainer ") }) {
		t.Fatalf("the plugin was never asked about the container: %v", told)
	}
	if slices.ContainsFunc(told, func(e string) bool { return strings.HasPrefix(e, "StartContainer ") }) {
		t.Fatalf("a refused container was started: %v", told)
	}

	// With the plugin gone, the same container (same name) is created.
	stop()
	id := createContainer(t, d, podID, cfg, ctr)
	startContainer(t, d, id)
	if st := ctrStatus(t, d, id).Status; st.State != runtimeapi.ContainerState_CONTAINER_RUNNING {
		t.Fatalf("the retried container is %v, want RUNNING", st.State)
	}
}

func TestNRIPluginAfterRestartIsToldOfRecoveredPods(t *testing.T) {
	d, image := startNRI(t)
	podID, cfg := runPod(t, d)
	id := createContainer(t, d, podID, cfg, ctrConfig(image))
	startContainer(t, d, id)

	d.Restart()
	r := &recorder{}
	connectPlugin(t, d, "after-restart", r)
	r.mu.Lock()
	pods, ctrs := r.syncPods, r.syncCtrs
	r.mu.Unlock()
	if !slices.Contains(pods, podID) || !slices.Contains(ctrs, id) {
		t.Fatalf("after a restart the plugin was synchronised with pods %v and containers %v, want %s and %s", pods, ctrs, podID, id)
	}
	// What it was synchronised with, it is told the end of.
	if _, err := d.Runtime.StopPodSandbox(ctxBG(t), &runtimeapi.StopPodSandboxRequest{PodSandboxId: podID}); err != nil {
		t.Fatal(err)
	}
	want := []string{"StopContainer " + id, "StopPodSandbox " + podID}
	if got := r.eventsOf(podID, id); !slices.Equal(got, want) {
		t.Fatalf("after StopPodSandbox the plugin was told %v, want %v", got, want)
	}
}

func TestNRIPluginUpdatesARunningContainer(t *testing.T) {
	d, image := startNRI(t)
	s, _ := connectPluginStub(t, d, "updater", &recorder{})
	podID, cfg := runPod(t, d)
	id := createContainer(t, d, podID, cfg, ctrConfig(image))
	startContainer(t, d, id)

	limit := int64(96 << 20)
	failed, err := s.UpdateContainers([]*api.ContainerUpdate{{
		ContainerId: id,
		Linux:       &api.LinuxContainerUpdate{Resources: &api.LinuxResources{Memory: &api.LinuxMemory{Limit: api.Int64(&limit)}}},
	}})
	if err != nil || len(failed) > 0 {
		t.Fatalf("UpdateContainers: failed %v, %v", failed, err)
	}
	if got := cgroupFile(t, d, id, "memory", "memory.limit_in_bytes"); got != strconv.FormatInt(limit, 10) {
		t.Fatalf("memory.limit_in_bytes = %s after the plugin's update, want %d", got, limit)
	}
	if got := ctrStatus(t, d, id).Status.GetResources().GetLinux().GetMemoryLimitInBytes(); got != limit {
		t.Fatalf("ContainerStatus reports a memory limit of %d, want the plugin's %d", got, limit)
	}
	// CPU shares the plugin left alone keep their value.
	if got := cgroupFile(t, d, id, "cpu", "cpu.shares"); got != "2" {
		t.Fatalf("cpu.shares = %s, want the untouched 2", got)
	}
}
