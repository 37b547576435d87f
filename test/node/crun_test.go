package node

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// crunRoot is the crun handler's state root as the node's installer
// configures it (no root in [runtimes.crun]: <state>/runtimes/crun), with
// the containerd namespace the shim appends.
const crunRoot = "/run/berth/runtimes/crun/berth"

// TestCrunHandler: a pod of the crun runtime handler (Debian's crun,
// configured by the installer's CRUN=yes) on the cgroup v2 node, where crun
// runs (the build machine's hybrid cgroups refuse it). The pod reports its
// handler; its container is crun's (crun's state names it running with the
// pid Berth reports, runc has none), lives in a systemd scope of the pod's
// slice as runc's do (in its "container" child); exec, logs, stats, a
// restart of berth.service and stop work.
func TestCrunHandler(t *testing.T) {
	if _, err := os.Stat("/usr/bin/crun"); err != nil {
		t.Fatalf("crun is not installed on the node image: %v", err)
	}
	slice, dir := burstable()
	logDir := t.TempDir()
	pod, cfg := runPodUnder(t, "crun", withParent(slice), func(c *runtimeapi.PodSandboxConfig) { c.LogDirectory = logDir })

	ctx, cancel := ctxTimeout(time.Minute)
	defer cancel()
	ps, err := rt.PodSandboxStatus(ctx, &runtimeapi.PodSandboxStatusRequest{PodSandboxId: pod})
	if err != nil {
		t.Fatalf("PodSandboxStatus: %v", err)
	}
	if got := ps.GetStatus().GetRuntimeHandler(); got != "crun" {
		t.Errorf("the pod's runtime handler is %q, want crun", got)
	}

	id := runCtr(t, pod, cfg, withShell("echo hello from crun; exec sleep 3600"),
		func(c *runtimeapi.ContainerConfig) { c.LogPath = "c.log" })
	_, info := ctrStatus(t, id)

	checkCrunRuns(t, id, info.Pid)
	// With the systemd driver crun makes the scope runc makes, and (crun
	// 1.x, as under Podman) puts the process in a "container" child of it,
	// so the scope itself may hold controllers (cgroup v2's rule of no
	// processes in inner cgroups). The scope is what kubelet and Berth's
	// stats read; its counters include the child's.
	checkScope(t, "the crun container", strings.TrimSuffix(procCgroup(t, info.Pid), "/container"), dir, id)

	if got := execOut(t, id, "echo", "exec under crun"); got != "exec under crun" {
		t.Errorf("exec printed %q", got)
	}
	waitFor(t, "the container's log line", 30*time.Second, func() bool {
		data, _ := os.ReadFile(filepath.Join(logDir, "c.log"))
		return strings.Contains(string(data), " stdout F hello from crun")
	})

	// Stats come from the container's scope, whichever runtime made it.
	sctx, scancel := ctxTimeout(time.Minute)
	cs, err := rt.ContainerStats(sctx, &runtimeapi.ContainerStatsRequest{ContainerId: id})
	scancel()
	if err != nil {
		t.Fatalf("ContainerStats: %v", err)
	}
	if cpu, ws := cs.GetStats().GetCpu().GetUsageCoreNanoSeconds().GetValue(), cs.GetStats().GetMemory().GetWorkingSetBytes().GetValue(); cpu == 0 || ws == 0 {
		t.Errorf("ContainerStats of the crun container: CPU %d ns, working set %d bytes; want both above 0", cpu, ws)
	}

	// A restart of berth.service finds the crun container again: running,
	// with its pid, under crun, and exec reaches it.
	run(t, "systemctl", "restart", "berth.service")
	if st, after := ctrStatus(t, id); st.GetState() != runtimeapi.ContainerState_CONTAINER_RUNNING || after.Pid != info.Pid {
		t.Fatalf("after a restart of berth.service the crun container is %v with pid %d, want running with pid %d", st.GetState(), after.Pid, info.Pid)
	}
	if got := execOut(t, id, "echo", "exec after the restart"); got != "exec after the restart" {
		t.Errorf("exec after the restart printed %q", got)
	}
	pctx, pcancel := ctxTimeout(time.Minute)
	defer pcancel()
	if ps, err := rt.PodSandboxStatus(pctx, &runtimeapi.PodSandboxStatusRequest{PodSandboxId: pod}); err != nil || ps.GetStatus().GetRuntimeHandler() != "crun" {
		t.Errorf("after the restart the pod's status is %v (handler %q), want handler crun", err, ps.GetStatus().GetRuntimeHandler())
	}

	stopCtr(t, id)
	if st, _ := ctrStatus(t, id); st.GetState() != runtimeapi.ContainerState_CONTAINER_EXITED {
		t.Errorf("after StopContainer the container is %v, want exited", st.GetState())
	}
	removeCtr(t, id)
	if _, err := os.Stat(filepath.Join(crunRoot, id)); err == nil {
		t.Errorf("crun's state of the removed container is still in %s", crunRoot)
	}
}

// checkCrunRuns checks crun's own view of container id, from its root:
// running, with the pid Berth reports; and that runc has no state for it.
func checkCrunRuns(t *testing.T, id string, pid int) {
	t.Helper()
	var state struct {
		Status string `json:"status"`
		Pid    int    `json:"pid"`
	}
	out := run(t, "crun", "--root", crunRoot, "state", id)
	if err := json.Unmarshal([]byte(out), &state); err != nil {
		t.Fatalf("crun state %s: %v: %s", id, err, out)
	}
	if state.Status != "running" || state.Pid != pid {
		t.Errorf("crun state: %s pid %d; want running with pid %d (ContainerStatus)", state.Status, state.Pid, pid)
	}
	if _, err := os.Stat(filepath.Join("/run/berth/runc/berth", id)); err == nil {
		t.Errorf("runc has state for the crun handler's container %s", id)
	}
}
