// Package node holds the checks `make test-node` runs inside its Debian VM
// (hack/test-node.sh): a production-like node with cgroup v2, systemd as
// PID 1 and Berth installed by `make install`'s installer and started as the
// shipped berth.service. Each top-level test is one check; the VM prints it
// as one PASS or FAIL line.
//
// The checks talk CRI to the node's berthd on /run/berth/berth.sock, and
// read the node's cgroups, mounts, journal and processes. They change the
// node (they stop and start berth.service, run kubelet), so anywhere but
// the test node (BERTH_TEST_NODE unset) they do not run at all.
//
// Environment, set by the VM's run.sh: BERTH_TEST_NODE is the image variant
// (minimal: no apparmor package; apparmor: Debian's apparmor package);
// BERTH_NODE_DIR holds the payload (bin/kubelet, the kubelet manifests);
// BERTH_NODE_OVERLAY_AT_BOOT says whether overlay was in /proc/filesystems
// before Berth was installed.
package node

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

const (
	socket  = "/run/berth/berth.sock"
	busybox = "registry.k8s.io/e2e-test-images/busybox:1.29-2"
	// cgroupRoot is the node's unified hierarchy.
	cgroupRoot = "/sys/fs/cgroup"
)

var (
	rt      runtimeapi.RuntimeServiceClient
	images  runtimeapi.ImageServiceClient
	variant string
	podSeq  atomic.Int64
)

func TestMain(m *testing.M) {
	variant = os.Getenv("BERTH_TEST_NODE")
	if variant == "" {
		fmt.Println("test/node: these checks run only inside make test-node's VM (BERTH_TEST_NODE unset)")
		os.Exit(0)
	}
	conn, err := grpc.NewClient("unix://"+socket, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(64<<20)))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	rt = runtimeapi.NewRuntimeServiceClient(conn)
	images = runtimeapi.NewImageServiceClient(conn)
	os.Exit(m.Run())
}

// Everything in the VM is about twenty times slower than natively (QEMU's
// TCG): every timeout here is generous on purpose.
func ctxTimeout(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), d)
}

func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

var pullOnce sync.Once

// pullBusybox pulls the test image through the node's registry mirror
// (the VM's berth-registry on 127.0.0.1, named in /etc/berth/certs.d).
func pullBusybox(t *testing.T) {
	t.Helper()
	var err error
	pullOnce.Do(func() {
		ctx, cancel := ctxTimeout(5 * time.Minute)
		defer cancel()
		_, err = images.PullImage(ctx, &runtimeapi.PullImageRequest{Image: &runtimeapi.ImageSpec{Image: busybox}})
	})
	if err != nil {
		pullOnce = sync.Once{}
		t.Fatalf("PullImage %s: %v", busybox, err)
	}
}

type podOption func(*runtimeapi.PodSandboxConfig)

// withParent gives the pod kubelet's systemd-driver parent: the pod's
// slice, named for its QoS class and UID.
func withParent(slice string) podOption {
	return func(c *runtimeapi.PodSandboxConfig) { c.Linux.CgroupParent = slice }
}

// privilegedPod lets the pod hold privileged containers.
func privilegedPod() podOption {
	return func(c *runtimeapi.PodSandboxConfig) { c.Linux.SecurityContext.Privileged = true }
}

func podConfig(opts ...podOption) *runtimeapi.PodSandboxConfig {
	name := fmt.Sprintf("node-%d-%d", os.Getpid(), podSeq.Add(1))
	uid := fmt.Sprintf("%08x-0000-4000-8000-%012d", os.Getpid(), podSeq.Load())
	c := &runtimeapi.PodSandboxConfig{
		Metadata: &runtimeapi.PodSandboxMetadata{Name: name, Namespace: "berth-node", Uid: uid},
		Hostname: name,
		Linux: &runtimeapi.LinuxPodSandboxConfig{
			CgroupParent:    "kubepods-besteffort-pod" + strings.ReplaceAll(uid, "-", "_") + ".slice",
			SecurityContext: &runtimeapi.LinuxSandboxSecurityContext{NamespaceOptions: &runtimeapi.NamespaceOption{}},
		},
	}
	for _, o := range opts {
		o(c)
	}
	return c
}

// runPod runs a sandbox and stops and removes it when the test ends.
func runPod(t *testing.T, opts ...podOption) (string, *runtimeapi.PodSandboxConfig) {
	t.Helper()
	return runPodUnder(t, "", opts...)
}

// runPodUnder runs a sandbox under a runtime handler ("" is the default).
func runPodUnder(t *testing.T, handler string, opts ...podOption) (string, *runtimeapi.PodSandboxConfig) {
	t.Helper()
	cfg := podConfig(opts...)
	ctx, cancel := ctxTimeout(3 * time.Minute)
	defer cancel()
	resp, err := rt.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: cfg, RuntimeHandler: handler})
	if err != nil {
		t.Fatalf("RunPodSandbox: %v", err)
	}
	id := resp.PodSandboxId
	t.Cleanup(func() { removePod(t, id) })
	return id, cfg
}

func removePod(t *testing.T, id string) {
	t.Helper()
	ctx, cancel := ctxTimeout(3 * time.Minute)
	defer cancel()
	if _, err := rt.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: id}); err != nil {
		t.Errorf("StopPodSandbox %s: %v", id, err)
	}
	if _, err := rt.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: id}); err != nil {
		t.Errorf("RemovePodSandbox %s: %v", id, err)
	}
}

type ctrOption func(*runtimeapi.ContainerConfig)

func withShell(script string) ctrOption {
	return func(c *runtimeapi.ContainerConfig) { c.Command = []string{"sh", "-c", script} }
}

func withResources(r *runtimeapi.LinuxContainerResources) ctrOption {
	return func(c *runtimeapi.ContainerConfig) { c.Linux.Resources = r }
}

func privileged() ctrOption {
	return func(c *runtimeapi.ContainerConfig) { c.Linux.SecurityContext.Privileged = true }
}

var ctrSeq atomic.Int64

// runCtr creates and starts a busybox container (by default `sleep 3600`)
// in the pod.
func runCtr(t *testing.T, pod string, podCfg *runtimeapi.PodSandboxConfig, opts ...ctrOption) string {
	t.Helper()
	pullBusybox(t)
	cfg := &runtimeapi.ContainerConfig{
		Metadata: &runtimeapi.ContainerMetadata{Name: fmt.Sprintf("c%d", ctrSeq.Add(1))},
		Image:    &runtimeapi.ImageSpec{Image: busybox},
		Command:  []string{"sleep", "3600"},
		Linux:    &runtimeapi.LinuxContainerConfig{SecurityContext: &runtimeapi.LinuxContainerSecurityContext{}},
	}
	for _, o := range opts {
		o(cfg)
	}
	ctx, cancel := ctxTimeout(3 * time.Minute)
	defer cancel()
	created, err := rt.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{PodSandboxId: pod, Config: cfg, SandboxConfig: podCfg})
	if err != nil {
		t.Fatalf("CreateContainer: %v", err)
	}
	if _, err := rt.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: created.ContainerId}); err != nil {
		t.Fatalf("StartContainer: %v", err)
	}
	return created.ContainerId
}

// ctrInfo is the part of ContainerStatus's verbose info the checks read.
type ctrInfo struct {
	Pid         int    `json:"pid"`
	CgroupsPath string `json:"cgroupsPath"`
}

func ctrStatus(t *testing.T, id string) (*runtimeapi.ContainerStatus, ctrInfo) {
	t.Helper()
	ctx, cancel := ctxTimeout(time.Minute)
	defer cancel()
	resp, err := rt.ContainerStatus(ctx, &runtimeapi.ContainerStatusRequest{ContainerId: id, Verbose: true})
	if err != nil {
		t.Fatalf("ContainerStatus %s: %v", id, err)
	}
	var info ctrInfo
	if err := json.Unmarshal([]byte(resp.Info["info"]), &info); err != nil {
		t.Fatalf("ContainerStatus %s verbose info %q: %v", id, resp.Info["info"], err)
	}
	return resp.Status, info
}

func stopCtr(t *testing.T, id string) {
	t.Helper()
	ctx, cancel := ctxTimeout(2 * time.Minute)
	defer cancel()
	if _, err := rt.StopContainer(ctx, &runtimeapi.StopContainerRequest{ContainerId: id, Timeout: 5}); err != nil {
		t.Fatalf("StopContainer %s: %v", id, err)
	}
}

func removeCtr(t *testing.T, id string) {
	t.Helper()
	ctx, cancel := ctxTimeout(2 * time.Minute)
	defer cancel()
	if _, err := rt.RemoveContainer(ctx, &runtimeapi.RemoveContainerRequest{ContainerId: id}); err != nil {
		t.Fatalf("RemoveContainer %s: %v", id, err)
	}
}

// execOut runs a command in the container; it must exit 0.
func execOut(t *testing.T, id string, cmd ...string) string {
	t.Helper()
	ctx, cancel := ctxTimeout(2 * time.Minute)
	defer cancel()
	resp, err := rt.ExecSync(ctx, &runtimeapi.ExecSyncRequest{ContainerId: id, Cmd: cmd, Timeout: 60})
	if err != nil {
		t.Fatalf("ExecSync %v: %v", cmd, err)
	}
	if resp.ExitCode != 0 {
		t.Fatalf("ExecSync %v exited %d: %s", cmd, resp.ExitCode, resp.Stderr)
	}
	return strings.TrimSpace(string(resp.Stdout))
}

// procCgroup is the process's cgroup v2 path as the node sees it (this
// test runs in the node's cgroup namespace).
func procCgroup(t *testing.T, pid int) string {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		t.Fatalf("cgroup of pid %d: %v", pid, err)
	}
	cg := cgroupV2Line(string(data))
	if cg == "" {
		t.Fatalf("pid %d has no cgroup v2 line in %q", pid, data)
	}
	return cg
}

// cgroupV2Line is the path of the "0::" line of a /proc/PID/cgroup, or ""
// without one.
func cgroupV2Line(data string) string {
	for _, line := range strings.Split(strings.TrimSpace(data), "\n") {
		if p, ok := strings.CutPrefix(line, "0::"); ok {
			return p
		}
	}
	return ""
}

func readCgroup(t *testing.T, cgroup, file string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(cgroupRoot, cgroup, file))
	if err != nil {
		t.Fatalf("read %s of cgroup %s: %v", file, cgroup, err)
	}
	return strings.TrimSpace(string(data))
}

// run runs a command on the node and returns its combined output.
func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := execCommand(name, args...)
	if err != nil {
		t.Fatalf("%s %s: %v: %s", name, strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(out)
}

func execCommand(name string, args ...string) (string, error) {
	out, err := exec.Command(name, args...).CombinedOutput()
	return string(out), err
}

// berthLog is berth.service's journal since its current start.
func berthLog(t *testing.T) string {
	t.Helper()
	inv := run(t, "systemctl", "show", "-p", "InvocationID", "--value", "berth.service")
	return run(t, "journalctl", "-o", "cat", "--no-pager", "_SYSTEMD_INVOCATION_ID="+inv)
}

func decode(t *testing.T, data string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(data), v); err != nil {
		t.Fatalf("verbose info %q: %v", data, err)
	}
}
