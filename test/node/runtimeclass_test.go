package node

import (
	"encoding/json"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// runtimeClasses: crun, the installer's CRUN=yes handler, with a pod
// overhead kubelet must add to the pod's cgroup; and a class whose handler
// Berth does not have.
const runtimeClasses = `apiVersion: node.k8s.io/v1
kind: RuntimeClass
metadata: {name: crun}
handler: crun
overhead:
  podFixed: {cpu: 50m, memory: 32Mi}
---
apiVersion: node.k8s.io/v1
kind: RuntimeClass
metadata: {name: nosuch}
handler: nosuch
`

// rtclassPod is a Guaranteed pod (limits only) of the RuntimeClass, on
// the node by name (there is no scheduler). Without a token volume it
// needs no kube-root-ca.crt (there is no controller-manager).
func rtclassPod(name, class string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: ServiceAccount
metadata: {name: default, namespace: default}
---
apiVersion: v1
kind: Pod
metadata: {name: %s, namespace: default}
spec:
  nodeName: %s
  runtimeClassName: %s
  automountServiceAccountToken: false
  terminationGracePeriodSeconds: 2
  containers:
  - name: c
    image: %s
    command: [sleep, "3600"]
    resources: {limits: {cpu: 100m, memory: 64Mi}}
`, name, nodeName, class, busybox)
}

// The pod's memory.max and cpu.max: the container's limits plus the
// RuntimeClass overhead (64 Mi + 32 Mi; 100m + 50m of a 100 ms period).
const (
	wantPodMemoryMax = "100663296"
	wantPodCPUMax    = "15000 100000"
)

type apiPod struct {
	Metadata struct {
		UID string `json:"uid"`
	} `json:"metadata"`
	Spec struct {
		Overhead map[string]string `json:"overhead"`
	} `json:"spec"`
	Status struct {
		Phase string `json:"phase"`
	} `json:"status"`
}

// TestRuntimeClass: runtimeClassName through a real API server. etcd and
// kube-apiserver on the VM's loopback, the VM's kubelet (cgroupDriver
// systemd, Berth's socket) registered as a node, RuntimeClasses and pods
// created with kubectl. A pod of RuntimeClass crun runs: its sandbox's
// handler is crun (crictl inspectp), its container is crun's (crun's state,
// not runc's), it lives in kubepods.slice with the class's overhead added to
// its cgroup limits, and deleting it removes its sandbox. A pod whose class
// names a handler Berth lacks does not start; its events carry Berth's
// InvalidArgument naming the handlers it knows.
func TestRuntimeClass(t *testing.T) {
	if _, err := os.Stat("/usr/bin/crun"); err != nil {
		t.Fatalf("crun is not installed on the node image: %v", err)
	}
	start := time.Now()
	cp := startControlPlane(t)
	// kubelet only once the API server is ready: started beside it on a
	// loaded machine, it starved the API server's start past a post-start
	// hook's deadline.
	cp.waitReady(t)
	t.Logf("etcd and kube-apiserver ready in %s", time.Since(start).Round(time.Second))
	startNodeKubelet(t, cp)
	waitFor(t, "node "+nodeName+" Ready", 5*time.Minute, func() bool {
		var n struct {
			Status struct {
				Conditions []struct{ Type, Status string } `json:"conditions"`
			} `json:"status"`
		}
		unitAlive(t, "kubelet-node")
		if cp.get("/api/v1/nodes/"+nodeName, &n) != nil {
			return false
		}
		for _, c := range n.Status.Conditions {
			if c.Type == "Ready" {
				return c.Status == "True"
			}
		}
		return false
	})
	t.Logf("node Ready %s after the start", time.Since(start).Round(time.Second))

	cp.kubectlRetry(t, runtimeClasses, "apply", "-f", "-")
	// The RuntimeClass admission plugin reads a cache that may lag the
	// classes just made: kubectlRetry applies the pods until it admits them.
	for _, p := range []struct{ name, class string }{{"crun-pod", "crun"}, {"nosuch-pod", "nosuch"}} {
		cp.kubectlRetry(t, rtclassPod(p.name, p.class), "apply", "-f", "-")
		t.Cleanup(func() { _, _ = cp.kubectl("", "delete", "pod", p.name, "--ignore-not-found", "--wait=false") })
	}

	var pod apiPod
	waitFor(t, "crun-pod Running", 4*time.Minute, func() bool {
		return cp.get("/api/v1/namespaces/default/pods/crun-pod", &pod) == nil && pod.Status.Phase == "Running"
	})
	t.Logf("crun-pod Running %s after the start", time.Since(start).Round(time.Second))
	if pod.Spec.Overhead["memory"] != "32Mi" || pod.Spec.Overhead["cpu"] != "50m" {
		t.Errorf("crun-pod's spec.overhead is %v, want the RuntimeClass's cpu 50m, memory 32Mi", pod.Spec.Overhead)
	}

	sb := podSandboxOf(t, pod.Metadata.UID)
	if sb == "" {
		t.Fatalf("Berth has no sandbox of crun-pod (uid %s)", pod.Metadata.UID)
	}
	var inspect struct {
		Status struct {
			RuntimeHandler string `json:"runtimeHandler"`
		} `json:"status"`
	}
	if err := json.Unmarshal([]byte(run(t, "crictl", "inspectp", sb)), &inspect); err != nil {
		t.Fatalf("crictl inspectp %s: %v", sb, err)
	}
	if inspect.Status.RuntimeHandler != "crun" {
		t.Errorf("crictl inspectp: the sandbox's runtime handler is %q, want crun", inspect.Status.RuntimeHandler)
	}

	ctx, cancel := ctxTimeout(time.Minute)
	defer cancel()
	ctrs, err := rt.ListContainers(ctx, &runtimeapi.ListContainersRequest{Filter: &runtimeapi.ContainerFilter{
		PodSandboxId: sb, State: &runtimeapi.ContainerStateValue{State: runtimeapi.ContainerState_CONTAINER_RUNNING}}})
	if err != nil || len(ctrs.Containers) != 1 {
		t.Fatalf("ListContainers of crun-pod's sandbox: %v, %d running; want 1", err, len(ctrs.GetContainers()))
	}
	id := ctrs.Containers[0].Id
	_, info := ctrStatus(t, id)
	checkCrunRuns(t, id, info.Pid)

	// crun puts the process in a "container" child of its scope (see
	// TestCrunHandler); the scope's parent is the pod's slice, which
	// kubelet made with the pod's limits plus the class's overhead.
	scope := strings.TrimSuffix(procCgroup(t, info.Pid), "/container")
	podSlice := path.Dir(scope)
	want := "/kubepods.slice/kubepods-pod" + strings.ReplaceAll(pod.Metadata.UID, "-", "_") + ".slice"
	if podSlice != want {
		t.Errorf("crun-pod's container is in %s, want a scope of %s (kubepods.slice, Guaranteed)", scope, want)
	} else {
		if got := readCgroup(t, podSlice, "memory.max"); got != wantPodMemoryMax {
			t.Errorf("the pod's memory.max is %s, want %s (64 Mi of limits + 32 Mi of overhead)", got, wantPodMemoryMax)
		}
		if got := readCgroup(t, podSlice, "cpu.max"); got != wantPodCPUMax {
			t.Errorf("the pod's cpu.max is %q, want %q (100m of limits + 50m of overhead)", got, wantPodCPUMax)
		}
	}

	// The pod of the unknown handler: kubelet's RunPodSandbox fails with
	// Berth's InvalidArgument, which its event carries.
	var events struct {
		Items []struct {
			Reason  string `json:"reason"`
			Message string `json:"message"`
		} `json:"items"`
	}
	var failed string
	waitFor(t, "a FailedCreatePodSandBox event of nosuch-pod", 3*time.Minute, func() bool {
		if cp.get("/api/v1/namespaces/default/events?fieldSelector=involvedObject.name%3Dnosuch-pod", &events) != nil {
			return false
		}
		for _, e := range events.Items {
			if e.Reason == "FailedCreatePodSandBox" {
				failed = e.Message
				return true
			}
		}
		return false
	})
	for _, w := range []string{"InvalidArgument", `"nosuch"`, "known: crun, runc"} {
		if !strings.Contains(failed, w) {
			t.Errorf("nosuch-pod's FailedCreatePodSandBox event %q does not say %s", failed, w)
		}
	}
	var nosuch apiPod
	if err := cp.get("/api/v1/namespaces/default/pods/nosuch-pod", &nosuch); err != nil {
		t.Fatal(err)
	}
	if nosuch.Status.Phase != "Pending" {
		t.Errorf("nosuch-pod is %s, want Pending", nosuch.Status.Phase)
	}
	if id := podSandboxOf(t, nosuch.Metadata.UID); id != "" {
		t.Errorf("Berth has sandbox %s of nosuch-pod, whose handler it does not know", id)
	}

	// Deleting the pod: kubelet stops it, and its garbage collection (once a
	// minute) removes the sandbox of a pod the API server no longer has.
	cp.kubectlRetry(t, "", "delete", "pod", "crun-pod", "--ignore-not-found", "--timeout=3m")
	waitFor(t, "crun-pod's sandbox to be removed", 4*time.Minute, func() bool { return podSandboxOf(t, pod.Metadata.UID) == "" })
	if _, err := os.Stat(filepath.Join(crunRoot, id)); err == nil {
		t.Errorf("crun's state of crun-pod's container is still in %s", crunRoot)
	}
	t.Logf("crun-pod's sandbox removed %s after the start", time.Since(start).Round(time.Second))
}

// startNodeKubelet runs the VM's kubelet (TestKubelet's configuration)
// against the API server, as node nodeName.
func startNodeKubelet(t *testing.T, cp *controlPlane) {
	t.Helper()
	dir := os.Getenv("BERTH_NODE_DIR")
	if _, err := os.Stat(filepath.Join(dir, "bin", "kubelet")); err != nil {
		t.Fatalf("no kubelet in the payload (hack/kubelet.sh builds it): %v", err)
	}
	for _, d := range []string{"/etc/kubernetes/manifests", "/var/lib/kubelet"} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile("/etc/kubernetes/kubelet-node.yaml", []byte(kubeletConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	// Registered after the control plane's cleanup, so kubelet stops (and
	// its pods' sandboxes go) before the API server does.
	startUnit(t, "kubelet-node", filepath.Join(dir, "bin", "kubelet"), "--config=/etc/kubernetes/kubelet-node.yaml",
		"--kubeconfig="+cp.kubeconfigPath("kubelet"), "--hostname-override="+nodeName, "--v=2")
	t.Cleanup(func() { stopKubelet(t) })
}

// podSandboxOf is the ID of Berth's sandbox of the pod with that UID, ""
// when there is none.
func podSandboxOf(t *testing.T, uid string) string {
	t.Helper()
	ctx, cancel := ctxTimeout(time.Minute)
	defer cancel()
	l, err := rt.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{Filter: &runtimeapi.PodSandboxFilter{
		LabelSelector: map[string]string{"io.kubernetes.pod.uid": uid}}})
	if err != nil {
		t.Fatalf("ListPodSandbox: %v", err)
	}
	if len(l.Items) == 0 {
		return ""
	}
	return l.Items[0].Id
}
