package node

import (
	"strings"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// TestInfralessPodInSlice: a pod as kubelet asks for one without
// shareProcessNamespace, under the systemd driver: no pause process, its
// containers' scopes in the pod's slice, sharing the pod's network, IPC and
// UTS namespaces (its hostname), each PID 1 of its own PID namespace, and
// the pod's stats read from its slice and its network namespace.
func TestInfralessPodInSlice(t *testing.T) {
	slice, dir := burstable()
	perContainer := func(c *runtimeapi.PodSandboxConfig) {
		c.Linux.SecurityContext.NamespaceOptions.Pid = runtimeapi.NamespaceMode_CONTAINER
	}
	pod, cfg := runPod(t, withParent(slice), perContainer)
	ctrPID := func(c *runtimeapi.ContainerConfig) {
		c.Linux.SecurityContext.NamespaceOptions = &runtimeapi.NamespaceOption{Pid: runtimeapi.NamespaceMode_CONTAINER}
	}
	var ids [2]string
	for i := range ids {
		ids[i] = runCtr(t, pod, cfg, ctrPID, withShell("trap 'exit 0' TERM; sleep 3600 & wait"))
		_, info := ctrStatus(t, ids[i])
		checkScope(t, "container "+ids[i][:12], procCgroup(t, info.Pid), dir, ids[i])
	}

	ctx, cancel := ctxTimeout(time.Minute)
	defer cancel()
	resp, err := rt.PodSandboxStatus(ctx, &runtimeapi.PodSandboxStatusRequest{PodSandboxId: pod, Verbose: true})
	if err != nil {
		t.Fatalf("PodSandboxStatus: %v", err)
	}
	var sb struct {
		Pid int `json:"pid"`
	}
	decode(t, resp.Info["info"], &sb)
	if resp.Status.State != runtimeapi.PodSandboxState_SANDBOX_READY || sb.Pid != 0 {
		t.Errorf("infra-less pod: %v with pause pid %d, want READY with none", resp.Status.State, sb.Pid)
	}
	for _, kind := range []string{"net", "ipc", "uts"} {
		a, b := execOut(t, ids[0], "readlink", "/proc/self/ns/"+kind), execOut(t, ids[1], "readlink", "/proc/self/ns/"+kind)
		if a != b {
			t.Errorf("the pod's containers are in %s namespaces %s and %s", kind, a, b)
		}
	}
	if a, b := execOut(t, ids[0], "readlink", "/proc/self/ns/pid"), execOut(t, ids[1], "readlink", "/proc/self/ns/pid"); a == b {
		t.Errorf("the containers share PID namespace %s", a)
	}
	if h := execOut(t, ids[1], "hostname"); h != cfg.Hostname {
		t.Errorf("hostname %q, want the pod's %q", h, cfg.Hostname)
	}
	st, err := rt.PodSandboxStats(ctx, &runtimeapi.PodSandboxStatsRequest{PodSandboxId: pod})
	if err != nil {
		t.Fatalf("PodSandboxStats: %v", err)
	}
	l := st.GetStats().GetLinux()
	if l.GetMemory().GetWorkingSetBytes().GetValue() == 0 || l.GetCpu() == nil {
		t.Errorf("pod stats without memory or CPU from the pod's slice: %v", l)
	}
	if n := l.GetNetwork(); n == nil || !strings.HasPrefix(n.GetDefaultInterface().GetName(), "eth") {
		t.Errorf("pod network stats %v, want the pod's eth0", n)
	}
}
