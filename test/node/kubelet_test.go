package node

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// kubeletConfig is kubeadm's node setup, reduced to a standalone kubelet:
// the systemd cgroup driver and the default failCgroupV1 (true). It never
// sets systemCgroups. The back-off is capped at 10 s so a crashing
// container restarts within the check's time.
const kubeletConfig = `apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
containerRuntimeEndpoint: unix:///run/berth/berth.sock
imageServiceEndpoint: unix:///run/berth/berth.sock
staticPodPath: /etc/kubernetes/manifests
cgroupDriver: systemd
fileCheckFrequency: 5s
syncFrequency: 10s
runtimeRequestTimeout: 10m
crashLoopBackOff: {maxContainerRestartPeriod: 10s}
failSwapOn: false
address: 127.0.0.1
readOnlyPort: 10255
healthzBindAddress: 127.0.0.1
healthzPort: 10248
authentication: {anonymous: {enabled: true}, webhook: {enabled: false}}
authorization: {mode: AlwaysAllow}
`

const kubeletPods = "http://127.0.0.1:10255/pods"

type podList struct {
	Items []struct {
		Metadata struct {
			Name   string            `json:"name"`
			Labels map[string]string `json:"labels"`
		} `json:"metadata"`
		Spec struct {
			Containers []struct{} `json:"containers"`
		} `json:"spec"`
		Status struct {
			Phase             string `json:"phase"`
			ContainerStatuses []struct {
				Name         string `json:"name"`
				Ready        bool   `json:"ready"`
				RestartCount int    `json:"restartCount"`
				ContainerID  string `json:"containerID"`
				LastState    struct {
					Terminated *struct {
						ExitCode int `json:"exitCode"`
					} `json:"terminated"`
				} `json:"lastState"`
			} `json:"containerStatuses"`
		} `json:"status"`
	} `json:"items"`
}

func kubeletPodList() (podList, error) {
	var l podList
	c := http.Client{Timeout: 30 * time.Second}
	resp, err := c.Get(kubeletPods)
	if err != nil {
		return l, err
	}
	defer resp.Body.Close()
	return l, json.NewDecoder(resp.Body).Decode(&l)
}

// TestKubelet: a real kubelet with the systemd cgroup driver runs the
// kubelet e2e's static pods (test/e2e/kubelet) to Running in
// kubepods.slice, restarts a crashing container, tears the pods down, and
// logs no cgroup error.
func TestKubelet(t *testing.T) {
	dir := os.Getenv("BERTH_NODE_DIR")
	if _, err := os.Stat(filepath.Join(dir, "bin", "kubelet")); err != nil {
		t.Fatalf("no kubelet in the payload (hack/kubelet.sh builds it): %v", err)
	}
	manifests, err := filepath.Glob(filepath.Join(dir, "kubelet", "*.yaml"))
	if err != nil || len(manifests) == 0 {
		t.Fatalf("no kubelet manifests in %s/kubelet: %v", dir, err)
	}
	for _, d := range []string{"/etc/kubernetes/manifests", "/var/lib/kubelet"} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile("/etc/kubernetes/kubelet-node.yaml", []byte(kubeletConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	run(t, "systemd-run", "--quiet", "--unit=kubelet-node", "--property=Type=exec",
		filepath.Join(dir, "bin", "kubelet"), "--config=/etc/kubernetes/kubelet-node.yaml",
		"--hostname-override=berth-node", "--v=2")
	t.Cleanup(func() { stopKubelet(t) })
	waitFor(t, "kubelet's healthz", 5*time.Minute, func() bool {
		if out, _ := runOut("systemctl", "is-active", "kubelet-node.service"); out != "active" {
			t.Fatalf("kubelet exited: %s", run(t, "journalctl", "-u", "kubelet-node.service", "-o", "cat", "--no-pager", "-n", "20"))
		}
		resp, err := http.Get("http://127.0.0.1:10248/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})

	for _, m := range manifests {
		data, err := os.ReadFile(m)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join("/etc/kubernetes/manifests", filepath.Base(m)), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var pods podList
	allUp := func() bool {
		var err error
		if pods, err = kubeletPodList(); err != nil || len(pods.Items) != len(manifests) {
			return false
		}
		for _, p := range pods.Items {
			if p.Status.Phase != "Running" || len(p.Status.ContainerStatuses) != len(p.Spec.Containers) {
				return false
			}
			for _, c := range p.Status.ContainerStatuses {
				if !c.Ready && c.Name != "crashloop" {
					return false
				}
			}
		}
		return true
	}
	waitFor(t, "the static pods Running and Ready", 10*time.Minute, allUp)

	// Every running container of theirs is in kubelet's kubepods.slice.
	ctx, cancel := ctxTimeout(time.Minute)
	defer cancel()
	list, err := rt.ListContainers(ctx, &runtimeapi.ListContainersRequest{Filter: &runtimeapi.ContainerFilter{
		State: &runtimeapi.ContainerStateValue{State: runtimeapi.ContainerState_CONTAINER_RUNNING}}})
	if err != nil {
		t.Fatalf("ListContainers: %v", err)
	}
	if len(list.Containers) < 6 {
		t.Errorf("%d running containers, want at least 6 of the 7 (crashloop may be down)", len(list.Containers))
	}
	for _, c := range list.Containers {
		_, info := ctrStatus(t, c.Id)
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", info.Pid))
		if err != nil {
			// crashloop's process can exit between the list and this read:
			// a container no longer running has no cgroup to check. Berth
			// reports the exit once the shim's event arrives, so a
			// container whose process is gone must leave RUNNING soon.
			exited := func() bool {
				st, _ := ctrStatus(t, c.Id)
				return st.GetState() != runtimeapi.ContainerState_CONTAINER_RUNNING
			}
			waitFor(t, fmt.Sprintf("container %s, whose process %d is gone, to be reported exited", c.Metadata.Name, info.Pid), 30*time.Second, exited)
			continue
		}
		if cg := cgroupV2Line(string(data)); !strings.HasPrefix(cg, "/kubepods.slice/") {
			t.Errorf("container %s of pod %s is in cgroup %s, outside kubepods.slice", c.Metadata.Name, c.Labels["io.kubernetes.pod.name"], cg)
		}
	}

	restarts := func(name string) (int, *int) {
		pods, _ = kubeletPodList()
		for _, p := range pods.Items {
			for _, c := range p.Status.ContainerStatuses {
				if c.Name == name {
					if c.LastState.Terminated != nil {
						return c.RestartCount, &c.LastState.Terminated.ExitCode
					}
					return c.RestartCount, nil
				}
			}
		}
		return 0, nil
	}
	first, _ := restarts("crashloop")
	waitFor(t, "crashloop to be restarted", 4*time.Minute, func() bool { n, _ := restarts("crashloop"); return n > first })
	waitFor(t, "once to be restarted after exiting 3", 4*time.Minute, func() bool {
		n, code := restarts("once")
		return n == 1 && code != nil && *code == 3
	})

	// Teardown: the manifests go, and so do the sandboxes.
	for _, m := range manifests {
		_ = os.Remove(filepath.Join("/etc/kubernetes/manifests", filepath.Base(m)))
	}
	waitFor(t, "every sandbox to stop after the manifests went", 5*time.Minute, func() bool {
		ctx, cancel := ctxTimeout(time.Minute)
		defer cancel()
		l, err := rt.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{Filter: &runtimeapi.PodSandboxFilter{
			State: &runtimeapi.PodSandboxStateValue{State: runtimeapi.PodSandboxState_SANDBOX_READY}}})
		return err == nil && len(l.Items) == 0
	})
	waitFor(t, "kubelet's /pods to be empty", 2*time.Minute, func() bool {
		l, err := kubeletPodList()
		return err == nil && len(l.Items) == 0
	})

	// klog's error lines start with E and the date (E1206 10:00:00...).
	var errs []string
	for _, l := range strings.Split(run(t, "journalctl", "-u", "kubelet-node.service", "-o", "cat", "--no-pager"), "\n") {
		if len(l) > 5 && l[0] == 'E' && l[1] >= '0' && l[1] <= '9' && strings.Contains(strings.ToLower(l), "cgroup") {
			errs = append(errs, l)
		}
	}
	if len(errs) > 0 {
		t.Errorf("kubelet logged %d cgroup errors, the first: %s", len(errs), strings.Join(errs[:min(len(errs), 3)], "\n"))
	}
}

// stopKubelet removes whatever static pods are left, stops kubelet, and
// removes the sandboxes it left, so later checks start from a clean node.
func stopKubelet(t *testing.T) {
	matches, _ := filepath.Glob("/etc/kubernetes/manifests/*.yaml")
	for _, m := range matches {
		_ = os.Remove(m)
	}
	_, _ = runOut("systemctl", "stop", "kubelet-node.service")
	ctx, cancel := ctxTimeout(5 * time.Minute)
	defer cancel()
	l, err := rt.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{})
	if err != nil {
		return
	}
	for _, sb := range l.Items {
		if sb.Labels["io.kubernetes.pod.namespace"] == "default" {
			_, _ = rt.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: sb.Id})
			_, _ = rt.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: sb.Id})
		}
	}
}
