package integration

import (
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/berth-cri/berth/test/harness"
)

// faultConflist puts the fault-injecting plugin after bridge: when it
// fails, bridge and host-local have already allocated a veth and an IP,
// which Berth must give back.
const faultConflist = `{
  "cniVersion": "1.0.0",
  "name": "berth-test",
  "plugins": [
    {"type": "bridge", "bridge": "BRIDGE", "isGateway": true, "ipMasq": false,
     "ipam": {"type": "host-local", "ranges": [[{"subnet": "SUBNET"}]], "dataDir": "IPAMDIR"}},
    {"type": "berth-fault", "controlDir": "CONTROL"}
  ]
}`

// startWithFaultPlugin builds the test plugin and starts berthd with it.
func startWithFaultPlugin(t *testing.T) (*harness.Daemon, string) {
	t.Helper()
	harness.RequireRoot(t)
	bin := t.TempDir()
	build := exec.Command("go", "build", "-o", filepath.Join(bin, "berth-fault"), "./cni/internal/faultplugin")
	build.Dir = harness.ModuleRoot()
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build fault plugin: %v\n%s", err, out)
	}
	control := t.TempDir()
	conflist := strings.Replace(faultConflist, "CONTROL", control, 1)
	d := harness.Start(t, harness.WithNetworkConfig(conflist), harness.WithArgs("--cni-bin-dir", bin))
	return d, control
}

func TestFailedCNIAddLeaksNothing(t *testing.T) {
	d, control := startWithFaultPlugin(t)
	if err := os.WriteFile(filepath.Join(control, "fail-ADD"), []byte("injected ADD failure"), 0o644); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := ctxTimeout(60 * time.Second)
	defer cancel()
	_, err := d.Runtime.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: podConfig()})
	if err == nil || !strings.Contains(err.Error(), "injected ADD failure") {
		t.Fatalf("want the plugin's error, got %v", err)
	}
	calls, _ := os.ReadFile(filepath.Join(control, "calls"))
	if !strings.Contains(string(calls), "start DEL") {
		t.Fatalf("no CNI DEL after the failed ADD; calls:\n%s", calls)
	}
	ipamFiles, _ := os.ReadDir(filepath.Join(d.IPAMDir, "berth-test"))
	for _, f := range ipamFiles {
		if addr, err := netip.ParseAddr(f.Name()); err == nil && d.Subnet.Contains(addr) {
			t.Errorf("host-local IP %s still allocated", f.Name())
		}
	}
	if left := leftovers(t, d, nil, nil); len(left) > 0 {
		t.Fatalf("leaked after a failed ADD: %v", left)
	}
	r, err := d.Runtime.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{})
	if err != nil || len(r.Items) != 0 {
		t.Fatalf("a failed sandbox is listed: %v %v", r.GetItems(), err)
	}
	// The same pod can be run once the plugin recovers.
	os.Remove(filepath.Join(control, "fail-ADD"))
	runPod(t, d)
}

func TestRetryAfterDeadlineGetsTheSandboxTheFirstCallFinished(t *testing.T) {
	d, control := startWithFaultPlugin(t)
	if err := os.WriteFile(filepath.Join(control, "sleep-ADD"), []byte("3s"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := podConfig()

	// kubelet gives up on the first call...
	short, cancel := ctxTimeout(time.Second)
	defer cancel()
	_, err := d.Runtime.RunPodSandbox(short, &runtimeapi.RunPodSandboxRequest{Config: cfg})
	if status.Code(err) != codes.DeadlineExceeded {
		t.Fatalf("first call: want DeadlineExceeded, got %v", err)
	}
	// ...and retries with the same metadata.
	ctx, cancel2 := ctxTimeout(60 * time.Second)
	defer cancel2()
	resp, err := d.Runtime.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: cfg})
	if err != nil {
		t.Fatalf("retry: %v", err)
	}
	t.Cleanup(func() { removePod(t, d, resp.PodSandboxId) })
	r, err := d.Runtime.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{})
	if err != nil || len(r.Items) != 1 || r.Items[0].Id != resp.PodSandboxId {
		t.Fatalf("want exactly the one sandbox %s, got %v %v", resp.PodSandboxId, r.GetItems(), err)
	}
	if r.Items[0].State != runtimeapi.PodSandboxState_SANDBOX_READY {
		t.Fatalf("sandbox is %v", r.Items[0].State)
	}
	calls, _ := os.ReadFile(filepath.Join(control, "calls"))
	if n := strings.Count(string(calls), "start ADD"); n != 1 {
		t.Fatalf("CNI ADD ran %d times for one pod:\n%s", n, calls)
	}
}
