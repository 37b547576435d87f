package integration

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/containerd/containerd/v2/core/leases"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/berth-cri/berth/test/harness"
)

// TestRuntimeHandlers runs the same pod under runc (the default) and crun,
// the two handlers every test daemon has, and checks what a user of a
// RuntimeClass sees: the handler in crictl inspectp, the container started
// by the named runtime (its state under that runtime's root), exec, logs,
// stats, stop and berthd's restart; and that an unknown handler is refused
// with nothing left behind.
func TestRuntimeHandlers(t *testing.T) {
	if _, err := exec.LookPath("crun"); err != nil {
		t.Skip("crun is not installed (make deps installs Debian's crun)")
	}
	d, image := startWithBusybox(t)

	t.Run("unknown handler", func(t *testing.T) {
		ctx, cancel := ctxTimeout(30 * time.Second)
		defer cancel()
		_, err := d.Runtime.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: podConfig(), RuntimeHandler: "kata"})
		if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "known: crun, runc") {
			t.Fatalf("RunPodSandbox under an unconfigured handler: %v; want InvalidArgument naming crun and runc", err)
		}
		_, err = d.Images.PullImage(ctx, &runtimeapi.PullImageRequest{Image: &runtimeapi.ImageSpec{Image: busyboxRef, RuntimeHandler: "kata"}})
		if status.Code(err) != codes.InvalidArgument {
			t.Errorf("PullImage under an unconfigured handler: %v; want InvalidArgument", err)
		}
		// Nothing was made: no sandbox in containerd, no lease, no netns,
		// no pod dir (no pod ran on this daemon yet, so the pool is empty).
		client := containerdOf(t, d)
		if cs, err := client.Containers(ctx); err != nil || len(cs) > 0 {
			t.Errorf("containerd containers after the refusal: %d (%v)", len(cs), err)
		}
		if ls, err := client.LeasesService().List(ctx); err != nil || len(leasesOfSandboxes(ls)) > 0 {
			t.Errorf("sandbox leases after the refusal: %v (%v)", leasesOfSandboxes(ls), err)
		}
		if m := harness.MountsUnder(filepath.Join(d.State, "netns")); len(m) > 0 {
			t.Errorf("netns mounts after the refusal: %v", m)
		}
		if e, _ := os.ReadDir(filepath.Join(d.Root, "sandboxes")); len(e) > 0 {
			t.Errorf("pod dirs after the refusal: %d", len(e))
		}
	})

	t.Run("status", func(t *testing.T) {
		resp, err := d.Runtime.Status(ctxBG(t), &runtimeapi.StatusRequest{})
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]*runtimeapi.RuntimeHandlerFeatures{}
		for _, h := range resp.GetRuntimeHandlers() {
			got[h.GetName()] = h.GetFeatures()
		}
		// runc >= 1.1 says it has "rro" in `runc features`; crun 1.8 has
		// no features command and is listed claiming nothing.
		crunHasFeatures := exec.Command("crun", "features").Run() == nil
		if len(got) != 3 || !got[""].GetRecursiveReadOnlyMounts() || !got["runc"].GetRecursiveReadOnlyMounts() || got["crun"] == nil {
			t.Fatalf("runtime handlers %v; want \"\", runc (with recursive read-only mounts) and crun", got)
		}
		if !crunHasFeatures && (got["crun"].GetRecursiveReadOnlyMounts() || got["crun"].GetUserNamespaces()) {
			t.Errorf("crun without a features command is reported with %v; want nothing claimed", got["crun"])
		}
	})

	for _, handler := range []string{"runc", harness.CrunHandler} {
		t.Run(handler, func(t *testing.T) {
			logDir := t.TempDir()
			cfg := podConfig(withLogDir(logDir))
			ctx, cancel := ctxTimeout(60 * time.Second)
			defer cancel()
			resp, err := d.Runtime.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: cfg, RuntimeHandler: handler})
			if handler == harness.CrunHandler && err != nil && strings.Contains(err.Error(), crunRefusesHybrid) {
				// crun ran (this is its message), under Berth's handler,
				// and the failed start was undone.
				if found := leftovers(t, d, nil, nil); len(found) > 0 {
					t.Errorf("crun's refused start left %v", found)
				}
				t.Skipf("this host mounts cgroup v1 beside a cgroup2 hierarchy that holds a controller (%s), which this crun refuses for every container: %v",
					strings.TrimSpace(readFile(t, "/sys/fs/cgroup/unified/cgroup.controllers")), err)
			}
			if err != nil {
				t.Fatalf("RunPodSandbox under %s: %v", handler, err)
			}
			pod := resp.PodSandboxId
			t.Cleanup(func() { removePod(t, d, pod) })

			out, err := d.Crictl("inspectp", pod)
			if err != nil {
				t.Fatal(err)
			}
			var inspect struct {
				Status struct {
					RuntimeHandler string `json:"runtimeHandler"`
				} `json:"status"`
			}
			if err := json.Unmarshal([]byte(out), &inspect); err != nil || inspect.Status.RuntimeHandler != handler {
				t.Errorf("crictl inspectp shows runtime handler %q (%v), want %q", inspect.Status.RuntimeHandler, err, handler)
			}

			ctr := runContainer(t, d, pod, cfg, ctrConfig(image, withShell("echo hello from "+handler+"; exec sleep 3600")))
			// The runtime that made the container keeps its state under
			// its root (<root>/<containerd namespace>/<id>), in its own
			// format: runc's state.json, crun's status.
			roots := map[string]string{"runc": filepath.Join(d.State, "runc"), "crun": filepath.Join(d.State, "runtimes", "crun")}
			stateFile := map[string]string{"runc": "state.json", "crun": "status"}
			for name, root := range roots {
				_, err := os.Stat(filepath.Join(root, "berth", ctr, stateFile[name]))
				if (name == handler) != (err == nil) {
					t.Errorf("%s's state of the container under %s: %v; want it there only for the %s handler", name, root, err, handler)
				}
			}

			if got := mustExec(t, d, ctr, "echo", "exec under "+handler); got != "exec under "+handler {
				t.Errorf("exec printed %q", got)
			}
			logFile := filepath.Join(logDir, ctrStatus(t, d, ctr).GetStatus().GetLogPath()[len(logDir):])
			d.WaitFor("the container's log line", 10*time.Second, func() bool {
				data, _ := os.ReadFile(logFile)
				return strings.Contains(string(data), "hello from "+handler)
			})
			stats, err := d.Runtime.ContainerStats(ctxBG(t), &runtimeapi.ContainerStatsRequest{ContainerId: ctr})
			if err != nil || stats.GetStats().GetMemory().GetWorkingSetBytes().GetValue() == 0 {
				t.Errorf("ContainerStats under %s: %v, %v; want the container's memory", handler, stats, err)
			}

			d.Restart()
			if st := ctrStatus(t, d, ctr).GetStatus(); st.GetState() != runtimeapi.ContainerState_CONTAINER_RUNNING {
				t.Fatalf("after berthd's restart the container is %v, want running", st.GetState())
			}
			if ps := podStatus(t, d, pod).GetStatus(); ps.GetState() != runtimeapi.PodSandboxState_SANDBOX_READY || ps.GetRuntimeHandler() != handler {
				t.Errorf("after berthd's restart the pod is %v under %q, want ready under %s", ps.GetState(), ps.GetRuntimeHandler(), handler)
			}
			mustExec(t, d, ctr, "true")

			// A second container, after the restart, runs under the pod's
			// handler too.
			second := runContainer(t, d, pod, cfg, ctrConfig(image))
			if _, err := os.Stat(filepath.Join(roots[handler], "berth", second, stateFile[handler])); err != nil {
				t.Errorf("a container created after berthd's restart is not %s's: %v", handler, err)
			}

			if _, err := d.Runtime.StopContainer(ctxBG(t), &runtimeapi.StopContainerRequest{ContainerId: ctr, Timeout: 5}); err != nil {
				t.Fatalf("StopContainer under %s: %v", handler, err)
			}
			if st := ctrStatus(t, d, ctr).GetStatus(); st.GetState() != runtimeapi.ContainerState_CONTAINER_EXITED {
				t.Errorf("after StopContainer the container is %v", st.GetState())
			}
		})
	}
}

// crunRefusesHybrid is how crun 1.8 refuses a host whose cgroup2 mount,
// beside the v1 controllers, holds a controller of its own.
const crunRefusesHybrid = "cgroups in hybrid mode not supported"

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, _ := os.ReadFile(path)
	return string(data)
}

// leasesOfSandboxes are the IDs of the leases Berth makes for pods.
func leasesOfSandboxes(ls []leases.Lease) []string {
	var ids []string
	for _, l := range ls {
		if strings.HasPrefix(l.ID, "berth-sandbox-") {
			ids = append(ids, l.ID)
		}
	}
	return ids
}
