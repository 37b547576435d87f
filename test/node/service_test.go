package node

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// TestServiceActive: the shipped berth.service, enabled and started by
// systemd, is active and ready, and tells kubelet to use the systemd cgroup
// driver.
func TestServiceActive(t *testing.T) {
	if out, _ := runOut("systemctl", "is-active", "berth.service"); out != "active" {
		t.Fatalf("systemctl is-active berth.service: %q", out)
	}
	ctx, cancel := ctxTimeout(time.Minute)
	defer cancel()
	st, err := rt.Status(ctx, &runtimeapi.StatusRequest{})
	if err != nil {
		t.Fatalf("Status: %v", err)
	}
	for _, c := range st.Status.GetConditions() {
		if !c.Status {
			t.Errorf("condition %s is false: %s %s", c.Type, c.Reason, c.Message)
		}
	}
	if len(st.Status.GetConditions()) < 2 {
		t.Errorf("conditions %v, want RuntimeReady and NetworkReady", st.Status.GetConditions())
	}
	rc, err := rt.RuntimeConfig(ctx, &runtimeapi.RuntimeConfigRequest{})
	if err != nil {
		t.Fatalf("RuntimeConfig: %v", err)
	}
	if got := rc.GetLinux().GetCgroupDriver(); got != runtimeapi.CgroupDriver_SYSTEMD {
		t.Errorf("RuntimeConfig cgroup driver %s, want SYSTEMD", got)
	}
	// crictl, as an operator would look: the driver, and both conditions
	// true there too.
	if out := run(t, "crictl", "runtime-config"); !strings.Contains(out, "SYSTEMD") {
		t.Errorf("crictl runtime-config: %q, want the SYSTEMD cgroup driver", out)
	}
	info := run(t, "crictl", "info")
	for _, cond := range []string{"RuntimeReady", "NetworkReady"} {
		if !strings.Contains(info, `"type": "`+cond+`"`) {
			t.Errorf("crictl info has no %s condition:\n%s", cond, info)
		}
	}
	if strings.Contains(info, `"status": false`) {
		t.Errorf("crictl info shows a false condition:\n%s", info)
	}
}

// TestOverlayLoaded: Debian ships overlay as a module; berth.service must
// start on a node that had not loaded it (the minimal image does not).
func TestOverlayLoaded(t *testing.T) {
	if at := os.Getenv("BERTH_NODE_OVERLAY_AT_BOOT"); at != "no" {
		t.Fatalf("overlay was loaded before berth.service started (BERTH_NODE_OVERLAY_AT_BOOT=%q): this image cannot check that Berth loads it", at)
	}
	data, err := os.ReadFile("/proc/filesystems")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), "\toverlay\n") {
		t.Fatalf("overlay is not in /proc/filesystems after berth.service started")
	}
}

// TestStopKeepsShims: `systemctl stop berth` (KillMode=process) stops
// berthd and its containerd, not the pods; a start finds them again.
func TestStopKeepsShims(t *testing.T) {
	pod, cfg := runPod(t)
	id := runCtr(t, pod, cfg)
	_, info := ctrStatus(t, id)
	shim := parentPID(t, info.Pid)
	mainPID := run(t, "systemctl", "show", "-p", "MainPID", "--value", "berth.service")

	run(t, "systemctl", "stop", "berth.service")
	if out, _ := runOut("systemctl", "is-active", "berth.service"); out == "active" {
		t.Fatalf("berth.service still active after systemctl stop")
	}
	if n, _ := strconv.Atoi(mainPID); n > 0 && alive(n) {
		t.Errorf("berthd (pid %d) still runs after systemctl stop", n)
	}
	for what, pid := range map[string]int{"the container": info.Pid, "its shim": shim} {
		if !alive(pid) {
			t.Errorf("%s (pid %d) died when berth.service stopped", what, pid)
		}
	}
	run(t, "systemctl", "start", "berth.service")

	st, after := ctrStatus(t, id)
	if st.State != runtimeapi.ContainerState_CONTAINER_RUNNING || after.Pid != info.Pid {
		t.Fatalf("after the restart the container is %s with pid %d, want RUNNING with pid %d", st.State, after.Pid, info.Pid)
	}
	if out := execOut(t, id, "echo", "back"); out != "back" {
		t.Errorf("exec after the restart printed %q", out)
	}
}

func runOut(name string, args ...string) (string, error) {
	out, err := execCommand(name, args...)
	return strings.TrimSpace(out), err
}

func alive(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil {
		return false
	}
	// A zombie is not running.
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	f := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+1:]))
	return len(f) > 0 && f[0] != "Z"
}

func parentPID(t *testing.T, pid int) int {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(l, "PPid:"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(v))
			return n
		}
	}
	t.Fatalf("no PPid in /proc/%d/status", pid)
	return 0
}
