package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/berth-cri/berth/test/harness"
)

var ctrSeq atomic.Int64

// startWithBusybox runs berthd against the test registry and pulls
// busybox, returning its image ID as kubelet would pass it.
func startWithBusybox(t *testing.T) (*harness.Daemon, string) {
	t.Helper()
	reg := harness.StartRegistry(t)
	d := harness.Start(t, harness.WithRegistryConfigDir(reg.HostsDir))
	return d, mustPull(t, d, busyboxRef)
}

// CtrOption changes a test container's config.
type CtrOption func(*runtimeapi.ContainerConfig)

func withCommand(cmd ...string) CtrOption {
	return func(c *runtimeapi.ContainerConfig) { c.Command = cmd }
}

func withShell(script string) CtrOption { return withCommand("sh", "-c", script) }

func withCtrLabels(labels map[string]string) CtrOption {
	return func(c *runtimeapi.ContainerConfig) {
		for k, v := range labels {
			c.Labels[k] = v
		}
	}
}

func withMount(m *runtimeapi.Mount) CtrOption {
	return func(c *runtimeapi.ContainerConfig) { c.Mounts = append(c.Mounts, m) }
}

func withResources(r *runtimeapi.LinuxContainerResources) CtrOption {
	return func(c *runtimeapi.ContainerConfig) { c.Linux.Resources = r }
}

func withSecurity(fn func(*runtimeapi.LinuxContainerSecurityContext)) CtrOption {
	return func(c *runtimeapi.ContainerConfig) { fn(c.Linux.SecurityContext) }
}

// withCtrPID sets the container's PID namespace mode, as kubelet sets it
// from the pod's.
func withCtrPID(mode runtimeapi.NamespaceMode) CtrOption {
	return withSecurity(func(sc *runtimeapi.LinuxContainerSecurityContext) { sc.NamespaceOptions.Pid = mode })
}

func ctrConfig(image string, opts ...CtrOption) *runtimeapi.ContainerConfig {
	name := fmt.Sprintf("ctr-%d", ctrSeq.Add(1))
	c := &runtimeapi.ContainerConfig{
		Metadata:    &runtimeapi.ContainerMetadata{Name: name},
		Image:       &runtimeapi.ImageSpec{Image: image, UserSpecifiedImage: busyboxRef},
		Command:     []string{"sleep", "3600"},
		Labels:      map[string]string{"ctr": name},
		Annotations: map[string]string{"io.kubernetes.container.restartCount": "0"},
		LogPath:     name + "/0.log",
		Linux: &runtimeapi.LinuxContainerConfig{
			Resources:       &runtimeapi.LinuxContainerResources{CpuShares: 2},
			SecurityContext: &runtimeapi.LinuxContainerSecurityContext{NamespaceOptions: &runtimeapi.NamespaceOption{}},
		},
	}
	for _, o := range opts {
		o(c)
	}
	return c
}

// withLogDir gives the pod a log directory, as kubelet does.
func withLogDir(dir string) PodOption {
	return func(c *runtimeapi.PodSandboxConfig) { c.LogDirectory = dir }
}

// createContainer creates a container and removes it when the test ends.
func createContainer(t *testing.T, d *harness.Daemon, podID string, podCfg *runtimeapi.PodSandboxConfig, cfg *runtimeapi.ContainerConfig) string {
	t.Helper()
	ctx, cancel := ctxTimeout(60 * time.Second)
	defer cancel()
	resp, err := d.Runtime.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{PodSandboxId: podID, Config: cfg, SandboxConfig: podCfg})
	if err != nil {
		t.Fatalf("CreateContainer: %v", err)
	}
	id := resp.ContainerId
	t.Cleanup(func() {
		ctx, cancel := ctxTimeout(60 * time.Second)
		defer cancel()
		if _, err := d.Runtime.RemoveContainer(ctx, &runtimeapi.RemoveContainerRequest{ContainerId: id}); err != nil {
			t.Errorf("RemoveContainer %s: %v", id, err)
		}
	})
	return id
}

func startContainer(t *testing.T, d *harness.Daemon, id string) {
	t.Helper()
	ctx, cancel := ctxTimeout(60 * time.Second)
	defer cancel()
	if _, err := d.Runtime.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: id}); err != nil {
		t.Fatalf("StartContainer %s: %v", id, err)
	}
}

// runContainer creates and starts a container in the pod.
func runContainer(t *testing.T, d *harness.Daemon, podID string, podCfg *runtimeapi.PodSandboxConfig, cfg *runtimeapi.ContainerConfig) string {
	t.Helper()
	id := createContainer(t, d, podID, podCfg, cfg)
	startContainer(t, d, id)
	return id
}

func ctrStatus(t *testing.T, d *harness.Daemon, id string) *runtimeapi.ContainerStatusResponse {
	t.Helper()
	ctx, cancel := ctxTimeout(10 * time.Second)
	defer cancel()
	resp, err := d.Runtime.ContainerStatus(ctx, &runtimeapi.ContainerStatusRequest{ContainerId: id, Verbose: true})
	if err != nil {
		t.Fatalf("ContainerStatus %s: %v", id, err)
	}
	return resp
}

// waitExited waits for a container to exit and returns its status.
func waitExited(t *testing.T, d *harness.Daemon, id string, timeout time.Duration) *runtimeapi.ContainerStatus {
	t.Helper()
	var st *runtimeapi.ContainerStatus
	d.WaitFor("container "+id[:12]+" to exit", timeout, func() bool {
		st = ctrStatus(t, d, id).Status
		return st.State == runtimeapi.ContainerState_CONTAINER_EXITED
	})
	return st
}

func execSync(t *testing.T, d *harness.Daemon, id string, timeout int64, cmd ...string) (*runtimeapi.ExecSyncResponse, error) {
	t.Helper()
	ctx, cancel := ctxTimeout(time.Duration(timeout+30) * time.Second)
	defer cancel()
	return d.Runtime.ExecSync(ctx, &runtimeapi.ExecSyncRequest{ContainerId: id, Cmd: cmd, Timeout: timeout})
}

// mustExec runs a command that must succeed and returns its stdout.
func mustExec(t *testing.T, d *harness.Daemon, id string, cmd ...string) string {
	t.Helper()
	resp, err := execSync(t, d, id, 10, cmd...)
	if err != nil {
		t.Fatalf("ExecSync %v: %v", cmd, err)
	}
	if resp.ExitCode != 0 {
		t.Fatalf("ExecSync %v exited %d: %s", cmd, resp.ExitCode, resp.Stderr)
	}
	return strings.TrimSpace(string(resp.Stdout))
}

// cgroupFile reads a file of the container's cgroup in a v1 hierarchy.
func cgroupFile(t *testing.T, d *harness.Daemon, id, controller, file string) string {
	t.Helper()
	var info struct {
		CgroupsPath string `json:"cgroupsPath"`
	}
	decodeInfo(t, ctrStatus(t, d, id).Info["info"], &info)
	data, err := os.ReadFile(filepath.Join("/sys/fs/cgroup", controller, info.CgroupsPath, file))
	if err != nil {
		t.Fatalf("read cgroup file: %v", err)
	}
	return strings.TrimSpace(string(data))
}

func decodeInfo(t *testing.T, data string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(data), v); err != nil {
		t.Fatalf("verbose info %q: %v", data, err)
	}
}

// bigClient is a CRI client that takes messages as large as ExecSync may
// answer (two capped streams), which the harness's default client does not.
func bigClient(t *testing.T, d *harness.Daemon) runtimeapi.RuntimeServiceClient {
	t.Helper()
	conn, err := grpc.NewClient("unix://"+d.Socket, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(64<<20)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return runtimeapi.NewRuntimeServiceClient(conn)
}

type contextT = context.Context
