package integration

import (
	"context"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/containerd/errdefs"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/berth-cri/berth/test/harness"
)

// infralessPod runs a pod as kubelet asks for one without
// shareProcessNamespace, with two long-running containers.
func infralessPod(t *testing.T, d *harness.Daemon, image string) (pod string, ctrs [2]string) {
	t.Helper()
	pod, podCfg := runPod(t, d, withPodPID(runtimeapi.NamespaceMode_CONTAINER))
	for i := range ctrs {
		ctrs[i] = runContainer(t, d, pod, podCfg, ctrConfig(image, withCtrPID(runtimeapi.NamespaceMode_CONTAINER), withShell("trap 'exit 0' TERM; sleep 3600 & wait")))
	}
	return pod, ctrs
}

// assertNoPause checks that containerd runs no task for the sandbox itself.
func assertNoPause(t *testing.T, d *harness.Daemon, pod string) {
	t.Helper()
	ctx, cancel := ctxTimeout(10 * time.Second)
	defer cancel()
	c, err := containerdOf(t, d).LoadContainer(ctx, pod)
	if err != nil {
		t.Fatalf("the sandbox's record in containerd: %v", err)
	}
	if _, err := c.Task(ctx, nil); !errdefs.IsNotFound(err) {
		t.Errorf("the infra-less sandbox %s has a task in containerd (err %v): a pause runs", pod[:12], err)
	}
}

func nsOf(t *testing.T, d *harness.Daemon, ctr, kind string) string {
	t.Helper()
	return mustExec(t, d, ctr, "readlink", "/proc/self/ns/"+kind)
}

func TestInfralessPodSharesNetworkIPCAndUTS(t *testing.T) {
	d, image := startWithBusybox(t)
	pod, ctrs := infralessPod(t, d, image)
	assertNoPause(t, d, pod)
	st := podStatus(t, d, pod).Status
	if st.State != runtimeapi.PodSandboxState_SANDBOX_READY || st.GetNetwork().GetIp() == "" {
		t.Fatalf("infra-less pod: state %v, IP %q; want READY with an IP", st.State, st.GetNetwork().GetIp())
	}
	for _, kind := range []string{"net", "ipc", "uts"} {
		if a, b := nsOf(t, d, ctrs[0], kind), nsOf(t, d, ctrs[1], kind); a != b {
			t.Errorf("the pod's containers are in different %s namespaces: %s and %s", kind, a, b)
		}
	}
	if a, b := nsOf(t, d, ctrs[0], "pid"), nsOf(t, d, ctrs[1], "pid"); a == b {
		t.Errorf("the containers of a pod without shareProcessNamespace share a PID namespace (%s)", a)
	}
	want := st.Metadata.Name // podConfig's hostname is the pod's name
	for _, c := range ctrs {
		if got := mustExec(t, d, c, "hostname"); got != want {
			t.Errorf("hostname in container %s = %q, want the pod's %q", c[:12], got, want)
		}
	}
	// Each container is PID 1 of its own namespace: no pause is.
	if got := mustExec(t, d, ctrs[0], "cat", "/proc/1/cmdline"); strings.Contains(got, "pause") {
		t.Errorf("PID 1 of an infra-less pod's container is %q", got)
	}
	// IPC: a shared memory file one container writes, the other reads.
	mustExec(t, d, ctrs[0], "sh", "-c", "echo shared > /dev/shm/note")
	if got := mustExec(t, d, ctrs[1], "cat", "/dev/shm/note"); got != "shared" {
		t.Errorf("/dev/shm/note in the second container = %q, want shared", got)
	}
	// Network: one listens on localhost, the other connects.
	mustExec(t, d, ctrs[0], "sh", "-c", "(echo hello-from-0 | nc -l -p 7070 127.0.0.1 >/dev/null 2>&1 &) ; sleep 0.2")
	var got string
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if got = mustExec(t, d, ctrs[1], "sh", "-c", "nc 127.0.0.1 7070 </dev/null 2>/dev/null || true"); got != "" {
			break
		}
	}
	if got != "hello-from-0" {
		t.Errorf("the second container read %q from the first over localhost, want hello-from-0", got)
	}
}

func TestSharedPIDPodKeepsAPauseAsPID1(t *testing.T) {
	d, image := startWithBusybox(t)
	pod, podCfg := runPod(t, d, withPodPID(runtimeapi.NamespaceMode_POD))
	a := runContainer(t, d, pod, podCfg, ctrConfig(image, withShell("exec sleep 3601")))
	b := runContainer(t, d, pod, podCfg, ctrConfig(image, withCommand("sleep", "3602")))
	if got := mustExec(t, d, b, "cat", "/proc/1/cmdline"); !strings.Contains(got, "pause") {
		t.Errorf("PID 1 of a shareProcessNamespace pod is %q, want the pause", got)
	}
	if ps := mustExec(t, d, b, "ps", "-o", "args"); !strings.Contains(ps, "sleep 3601") {
		t.Errorf("the second container does not see the first's process:\n%s", ps)
	}
	if x, y := nsOf(t, d, a, "pid"), nsOf(t, d, b, "pid"); x != y {
		t.Errorf("the containers of a shareProcessNamespace pod are in PID namespaces %s and %s", x, y)
	}
}

// An infra-less pod has no process of its own to keep it alive: it is
// READY from its RunPodSandbox to its StopPodSandbox, across berthd's
// restarts and containerd's death, and NOTREADY after a stop even when
// berthd restarts.
func TestInfralessPodSurvivesRestarts(t *testing.T) {
	d, image := startWithBusybox(t)
	pod, ctrs := infralessPod(t, d, image)
	ip := podStatus(t, d, pod).Status.GetNetwork().GetIp()
	check := func(when string) {
		t.Helper()
		st := podStatus(t, d, pod).Status
		if st.State != runtimeapi.PodSandboxState_SANDBOX_READY || st.GetNetwork().GetIp() != ip {
			t.Fatalf("%s: pod %v with IP %q, want READY with %s", when, st.State, st.GetNetwork().GetIp(), ip)
		}
		for _, c := range ctrs {
			if got := mustExec(t, d, c, "hostname"); got != st.Metadata.Name {
				t.Errorf("%s: hostname %q, want %q", when, got, st.Metadata.Name)
			}
		}
	}
	d.Restart()
	check("after berthd's restart")

	first := d.ContainerdPID()
	if err := syscall.Kill(first, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	d.WaitFor("containerd restarted and RuntimeReady", 15*time.Second, func() bool {
		pid := d.ContainerdPID()
		return pid != first && pid != 0 && runtimeStatus(t, d)[runtimeapi.RuntimeReady].Status
	})
	check("after containerd's kill -9")

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := d.Runtime.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: pod}); err != nil {
		t.Fatal(err)
	}
	d.Restart()
	if st := podStatus(t, d, pod).Status; st.State != runtimeapi.PodSandboxState_SANDBOX_NOTREADY {
		t.Errorf("a stopped infra-less pod is %v after berthd's restart, want NOTREADY", st.State)
	}
	removePod(t, d, pod)
	if n := waitNoShims(d); n != 0 {
		t.Errorf("%d shims run after the infra-less pod was removed", n)
	}
}

// An infra-less pod with a user namespace of its own and sysctls: the
// namespaces Berth pins are owned by the pod's user namespace, and the
// pod's sysctls, which no pause applies, hold in its containers.
func TestInfralessPodWithUserNamespaceAndSysctls(t *testing.T) {
	d, image := startWithBusybox(t)
	sysctls := func(c *runtimeapi.PodSandboxConfig) {
		c.Linux.Sysctls = map[string]string{"net.ipv4.ip_local_port_range": "20000 30000", "kernel.shm_rmid_forced": "1"}
	}
	pod, podCfg := runPod(t, d, withPodPID(runtimeapi.NamespaceMode_CONTAINER), withUserNS(podUserNS()), sysctls)
	ctr := runContainer(t, d, pod, podCfg, ctrConfig(image, withCtrPID(runtimeapi.NamespaceMode_CONTAINER),
		withSecurity(func(sc *runtimeapi.LinuxContainerSecurityContext) {
			sc.NamespaceOptions.UsernsOptions = podUserNS()
			sc.Capabilities = &runtimeapi.Capability{AddCapabilities: []string{"NET_ADMIN"}}
		})))
	assertNoPause(t, d, pod)
	want := fmt.Sprintf("0 %d %d", usernsHostID, usernsLength)
	if got := strings.Join(strings.Fields(mustExec(t, d, ctr, "cat", "/proc/self/uid_map")), " "); got != want {
		t.Errorf("uid_map in the container = %q, want %q", got, want)
	}
	if got := strings.Join(strings.Fields(mustExec(t, d, ctr, "cat", "/proc/sys/net/ipv4/ip_local_port_range")), " "); got != "20000 30000" {
		t.Errorf("net.ipv4.ip_local_port_range in the pod = %q, want 20000 30000", got)
	}
	if got := mustExec(t, d, ctr, "cat", "/proc/sys/kernel/shm_rmid_forced"); got != "1" {
		t.Errorf("kernel.shm_rmid_forced in the pod = %q, want 1", got)
	}
	if got := mustExec(t, d, ctr, "hostname"); got != podCfg.Hostname {
		t.Errorf("hostname = %q, want %q", got, podCfg.Hostname)
	}
	// Its root, given CAP_NET_ADMIN (in its user namespace), administers
	// its network namespace, owned by that user namespace: a node-owned one
	// would refuse.
	if out, err := execSync(t, d, ctr, 10, "ip", "link", "set", "lo", "mtu", "1500"); err != nil || out.ExitCode != 0 {
		t.Errorf("the pod's root cannot administer its network namespace (exit %d, %v): %s", out.GetExitCode(), err, out.GetStderr())
	}
}
