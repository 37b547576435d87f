package integration

import (
	"encoding/json"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/berth-cri/berth/test/harness"
)

func runtimeStatus(t *testing.T, d *harness.Daemon) map[string]*runtimeapi.RuntimeCondition {
	t.Helper()
	ctx, cancel := ctxTimeout(10 * time.Second)
	defer cancel()
	resp, err := d.Runtime.Status(ctx, &runtimeapi.StatusRequest{})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*runtimeapi.RuntimeCondition{}
	for _, c := range resp.Status.Conditions {
		out[c.Type] = c
	}
	return out
}

func TestDaemonServesCRIToCrictl(t *testing.T) {
	d := harness.Start(t)

	out, err := d.Crictl("version")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"RuntimeName:  berth", "RuntimeApiVersion:  v1"} {
		if !strings.Contains(out, want) {
			t.Errorf("crictl version lacks %q:\n%s", want, out)
		}
	}

	out, err = d.Crictl("info")
	if err != nil {
		t.Fatal(err)
	}
	var info struct {
		Status struct {
			Conditions []struct {
				Type   string `json:"type"`
				Status bool   `json:"status"`
			} `json:"conditions"`
		} `json:"status"`
		Config json.RawMessage `json:"config"`
	}
	if err := json.Unmarshal([]byte(out), &info); err != nil {
		t.Fatalf("crictl info is not JSON: %v\n%s", err, out)
	}
	ready := map[string]bool{}
	for _, c := range info.Status.Conditions {
		ready[c.Type] = c.Status
	}
	if !ready["RuntimeReady"] || !ready["NetworkReady"] {
		t.Fatalf("crictl info: want RuntimeReady and NetworkReady true, got %v\n%s", ready, out)
	}
	if !strings.Contains(string(info.Config), d.Socket) {
		t.Errorf("crictl info should show the effective config (socket %s): %s", d.Socket, info.Config)
	}

	fi, err := os.Stat(d.Socket)
	if err != nil || fi.Mode().Perm() != 0o660 {
		t.Errorf("CRI socket mode: %v %v", fi.Mode(), err)
	}
}

func TestNetworkReadyFollowsTheConfDir(t *testing.T) {
	d := harness.Start(t, harness.WithoutNetworkConfig())
	c := runtimeStatus(t, d)
	if !c[runtimeapi.RuntimeReady].Status {
		t.Fatalf("runtime not ready: %v", c[runtimeapi.RuntimeReady])
	}
	nw := c[runtimeapi.NetworkReady]
	if nw.Status || nw.Reason != "NetworkPluginNotReady" || !strings.Contains(nw.Message, d.CNIConfDir) {
		t.Fatalf("with no CNI config: want NetworkReady false naming %s, got %+v", d.CNIConfDir, nw)
	}
	d.WriteNetworkConfig(`{"cniVersion":"1.0.0","name":"late","plugins":[{"type":"loopback"}]}`)
	d.WaitFor("NetworkReady after a config appears", 10*time.Second, func() bool {
		return runtimeStatus(t, d)[runtimeapi.NetworkReady].Status
	})
}

func TestKilledContainerdIsRestarted(t *testing.T) {
	d, image := startWithBusybox(t)
	pod, podCfg := runPod(t, d)
	// An exec before the kill: berthd keeps the container's task from it
	// (container.ExecBase), and an exec after must work through it.
	ctr := runContainer(t, d, pod, podCfg, ctrConfig(image))
	if got := mustExec(t, d, ctr, "echo", "before"); got != "before" {
		t.Fatalf("exec before the kill = %q", got)
	}
	var before struct {
		Pid int `json:"pid"`
	}
	decodeInfo(t, podStatus(t, d, pod).Info["info"], &before)
	first := d.ContainerdPID()
	if first == 0 {
		t.Fatal("no containerd pid file")
	}
	if err := syscall.Kill(first, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	d.WaitFor("containerd restarted and RuntimeReady", 15*time.Second, func() bool {
		pid := d.ContainerdPID()
		return pid != first && pid != 0 && runtimeStatus(t, d)[runtimeapi.RuntimeReady].Status
	})
	t.Logf("containerd back %v after kill -9", time.Since(start).Round(time.Millisecond))
	if !strings.Contains(d.Log(), "containerd exited unexpectedly") {
		t.Errorf("berthd's log does not say what happened:\n%s", d.Log())
	}
	if out, err := d.Crictl("info"); err != nil || !strings.Contains(out, `"RuntimeReady"`) {
		t.Fatalf("crictl info after the restart: %v\n%s", err, out)
	}
	// The pod lived through it: same pause process, still READY; runPod's
	// cleanup then stops and removes it through the new containerd.
	if st := podStatus(t, d, pod).Status; st.State != runtimeapi.PodSandboxState_SANDBOX_READY {
		t.Fatalf("pod after containerd's restart: %v", st.State)
	}
	if !harness.ProcessAlive(before.Pid) {
		t.Fatalf("pause process %d died with containerd", before.Pid)
	}
	if got := mustExec(t, d, ctr, "echo", "after"); got != "after" {
		t.Errorf("exec after containerd's restart = %q", got)
	}
	next, _ := runPod(t, d) // and a new pod starts
	// No shim outlives the pods.
	removePod(t, d, next)
	removePod(t, d, pod)
	if n := waitNoShims(d); n != 0 {
		t.Errorf("%d shims run with no pod left", n)
	}
}

func TestShutdownStopsContainerdAndRemovesTheSocket(t *testing.T) {
	d := harness.Start(t)
	ctrd := d.ContainerdPID()
	// A pod stopped just before the shutdown: its pause task is deleted in
	// the background, and the shutdown must let that finish, or the pod's
	// shim outlives it.
	ctx, cancel := ctxTimeout(30 * time.Second)
	defer cancel()
	resp, err := d.Runtime.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: podConfig()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Runtime.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: resp.PodSandboxId}); err != nil {
		t.Fatal(err)
	}
	if err := d.Stop(); err != nil {
		t.Fatal(err)
	}
	if n := shimsOf(d); n != 0 {
		t.Errorf("%d shims outlive berthd's shutdown, with no pod running", n)
	}
	if harness.ProcessAlive(ctrd) {
		t.Fatalf("containerd %d survived berthd's shutdown", ctrd)
	}
	if _, err := os.Stat(d.Socket); !os.IsNotExist(err) {
		t.Fatalf("socket %s left behind: %v", d.Socket, err)
	}
	if !strings.Contains(d.Log(), "berthd shutting down") {
		t.Errorf("no shutdown line in the log:\n%s", d.Log())
	}
}
