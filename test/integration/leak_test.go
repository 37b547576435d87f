package integration

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/berth-cri/berth/test/harness"
)

// leakCycles is how many pod lifecycles TestNothingLeaksOverManyPodLifecycles
// runs; BERTH_LEAK_CYCLES raises it (1000 for the long run in
// docs/reliability.md).
func leakCycles() int {
	if n, err := strconv.Atoi(os.Getenv("BERTH_LEAK_CYCLES")); err == nil && n > 0 {
		return n
	}
	return 30
}

// metric reads one sample from berthd's /metrics; series is the metric
// name with its labels as Prometheus prints them.
func metric(t *testing.T, addr, series string) int {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	s := bufio.NewScanner(resp.Body)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), series+" "); ok {
			n, _ := strconv.ParseFloat(v, 64)
			return int(n)
		}
	}
	t.Fatalf("no %s in /metrics", series)
	return 0
}

func goroutines(t *testing.T, addr string) int { return metric(t, addr, "go_goroutines") }

func openFDs(t *testing.T, pid int) int {
	t.Helper()
	entries, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatal(err)
	}
	return len(entries)
}

// shimsOf counts the containerd shims serving this daemon's containers:
// the sockets in berthd's shim socket directory that a shim still listens
// on (a shim removes its socket when it exits; one killed leaves it, and
// then nothing answers).
func shimsOf(d *harness.Daemon) int {
	n := 0
	entries, _ := os.ReadDir(filepath.Join(d.State, "s"))
	for _, e := range entries {
		if e.Type()&os.ModeSocket == 0 {
			continue
		}
		if c, err := net.DialTimeout("unix", filepath.Join(d.State, "s", e.Name()), time.Second); err == nil {
			c.Close()
			n++
		}
	}
	return n
}

// waitNoShims waits, for 10 s at most, until no shim of the daemon's runs:
// a pod's shim exits once its last task is deleted, a moment after the
// RemovePodSandbox that deleted it.
func waitNoShims(d *harness.Daemon) int {
	n := shimsOf(d)
	for deadline := time.Now().Add(10 * time.Second); n > 0 && time.Now().Before(deadline); n = shimsOf(d) {
		time.Sleep(100 * time.Millisecond)
	}
	return n
}

func startForLeaks(t *testing.T) (*harness.Daemon, string, string) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	metrics := l.Addr().String()
	l.Close()
	reg := harness.StartRegistry(t)
	d := harness.Start(t, harness.WithRegistryConfigDir(reg.HostsDir), harness.WithArgs("--metrics-address", metrics))
	return d, mustPull(t, d, busyboxRef), metrics
}

// podCycle runs a pod with one container, then stops and removes it.
func podCycle(t *testing.T, d *harness.Daemon, image string, i int) (id, ip string) {
	t.Helper()
	var opts []PodOption
	switch i % 3 {
	case 1:
		opts = append(opts, withHostPort(runtimeapi.Protocol_TCP, 80, freePort(t, "tcp")))
	case 2:
		opts = append(opts, withHostPort(runtimeapi.Protocol_UDP, 53, freePort(t, "udp")))
	}
	pid := runtimeapi.NamespaceMode_POD
	if i%2 == 1 {
		// Half the pods are infra-less (kubelet's pods without
		// shareProcessNamespace), half have a pause.
		pid = runtimeapi.NamespaceMode_CONTAINER
	}
	opts = append(opts, withPodPID(pid))
	cfg := podConfig(opts...)
	ctx, cancel := ctxTimeout(60 * time.Second)
	defer cancel()
	resp, err := d.Runtime.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: cfg})
	if err != nil {
		t.Fatalf("cycle %d: RunPodSandbox: %v", i, err)
	}
	id = resp.PodSandboxId
	ip = podIP(t, d, id)
	c, err := d.Runtime.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{
		PodSandboxId: id, SandboxConfig: cfg, Config: ctrConfig(image, withCtrPID(pid), withCommand("sleep", "3600")),
	})
	if err != nil {
		t.Fatalf("cycle %d: CreateContainer: %v", i, err)
	}
	if _, err := d.Runtime.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: c.ContainerId}); err != nil {
		t.Fatalf("cycle %d: StartContainer: %v", i, err)
	}
	// kubelet's order: stop the pod (which stops its containers), then
	// remove it (which removes them).
	if _, err := d.Runtime.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: id}); err != nil {
		t.Fatalf("cycle %d: StopPodSandbox: %v", i, err)
	}
	if _, err := d.Runtime.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: id}); err != nil {
		t.Fatalf("cycle %d: RemovePodSandbox: %v", i, err)
	}
	return id, ip
}

func TestNothingLeaksOverManyPodLifecycles(t *testing.T) {
	d, image, metrics := startForLeaks(t)
	podCycle(t, d, image, 0) // warm-up: caches, bridge, connections
	podCycle(t, d, image, 1)
	waitNoShims(d)
	fdsBefore, goBefore := openFDs(t, d.PID()), goroutines(t, metrics)
	mountsBefore := len(harness.MountsUnder(d.Dir))

	n := leakCycles()
	var ids, ips []string
	start := time.Now()
	for i := 1; i <= n; i++ {
		id, ip := podCycle(t, d, image, i)
		ids, ips = append(ids, id), append(ips, ip)
	}
	t.Logf("%d pod lifecycles (with a container, half infra-less, a third with a TCP and a third with a UDP hostPort) in %v", n, time.Since(start).Round(time.Millisecond))

	if left := leftovers(t, d, ids, ips); len(left) > 0 {
		t.Errorf("leaked: %v", left)
	}
	if m := len(harness.MountsUnder(d.Dir)); m != mountsBefore {
		t.Errorf("mounts under berthd's dirs: %d before, %d after: %v", mountsBefore, m, harness.MountsUnder(d.Dir))
	}
	if left := waitNoShims(d); left != 0 {
		t.Errorf("%d containerd shims still run with no pod left", left)
	}
	// A few fds and goroutines come and go (gRPC connections, timers); a
	// leak grows with the cycles.
	var fdsAfter, goAfter int
	for try := 0; try < 20; try++ {
		fdsAfter, goAfter = openFDs(t, d.PID()), goroutines(t, metrics)
		if fdsAfter <= fdsBefore+5 && goAfter <= goBefore+10 {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Logf("berthd fds %d -> %d, goroutines %d -> %d", fdsBefore, fdsAfter, goBefore, goAfter)
	// Every pod start is timed, by stage and at the edge; only the pods
	// with a pause (the warm-up's first, and every other one) start one.
	for _, series := range []string{
		`berth_sandbox_stage_duration_seconds_count{stage="run"}`,
		`berth_sandbox_stage_duration_seconds_count{stage="cni-add"}`,
		`berth_cri_request_duration_seconds_count{code="OK",method="RunPodSandbox"}`,
	} {
		if got := metric(t, metrics, series); got != n+2 {
			t.Errorf("%s = %d, want %d", series, got, n+2)
		}
	}
	if started, want := metric(t, metrics, `berth_sandbox_stage_duration_seconds_count{stage="pause-start"}`), 1+(n+1)/2; started != want {
		t.Errorf("%d pods started a pause; want %d (the pods without an infra-less PID mode)", started, want)
	}
	if fdsAfter > fdsBefore+5 {
		t.Errorf("berthd fds grew from %d to %d over %d cycles", fdsBefore, fdsAfter, n)
	}
	if goAfter > goBefore+10 {
		t.Errorf("berthd goroutines grew from %d to %d over %d cycles", goBefore, goAfter, n)
	}
}

func TestConcurrentRunsWithDuplicateMetadataMakeOneSandboxEach(t *testing.T) {
	d := harness.Start(t)
	const pods, copies = 10, 5
	configs := make([]*runtimeapi.PodSandboxConfig, pods)
	for i := range configs {
		configs[i] = podConfig()
	}
	got := make([][]string, pods)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := 0; i < pods; i++ {
		for c := 0; c < copies; c++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				ctx, cancel := ctxTimeout(120 * time.Second)
				defer cancel()
				resp, err := d.Runtime.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: configs[i]})
				if err != nil {
					t.Errorf("RunPodSandbox %s: %v", configs[i].Metadata.Name, err)
					return
				}
				mu.Lock()
				got[i] = append(got[i], resp.PodSandboxId)
				mu.Unlock()
			}(i)
		}
	}
	wg.Wait()
	distinct := map[string]bool{}
	for i, ids := range got {
		for _, id := range ids {
			if id != ids[0] {
				t.Errorf("pod %d: the %d calls got different sandboxes %v", i, copies, ids)
				break
			}
		}
		if len(ids) > 0 {
			distinct[ids[0]] = true
			t.Cleanup(func() { removePod(t, d, ids[0]) })
		}
	}
	ctx, cancel := ctxTimeout(10 * time.Second)
	defer cancel()
	r, err := d.Runtime.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Items) != pods || len(distinct) != pods {
		t.Fatalf("%d calls for %d pods made %d sandboxes (%d distinct IDs returned)", pods*copies, pods, len(r.Items), len(distinct))
	}
}
