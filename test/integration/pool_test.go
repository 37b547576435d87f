package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/containerd/containerd/api/services/tasks/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/berth-cri/berth/internal/procsig"
	"github.com/berth-cri/berth/test/harness"
)

// v1Hierarchies are the mounted cgroup hierarchies, when there are v1
// ones: with the unified one of a hybrid host, where runc puts a pause too.
func v1Hierarchies(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	v1 := false
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 9 || f[3] != "/" {
			continue
		}
		switch f[len(f)-3] {
		case "cgroup":
			v1 = true
			out = append(out, f[4])
		case "cgroup2":
			out = append(out, f[4])
		}
	}
	if !v1 {
		return nil
	}
	return out
}

// A pod that takes a pause started ahead for the pool ends as if its pause
// had been started for it: the pod's hostname, the pause in a cgroup under
// the pod's cgroup parent (where runc, asked by containerd, finds it), and
// nothing of either left once the pod is removed.
func TestAPooledSandboxBecomesThePodsOwn(t *testing.T) {
	hier := v1Hierarchies(t)
	if len(hier) == 0 {
		t.Skip("the sandbox pool needs cgroup v1")
	}
	otherPool := false // another berthd's, kept at the end
	for _, h := range hier {
		if _, err := os.Stat(filepath.Join(h, "berth-pool")); err == nil {
			otherPool = true
		}
	}
	d, image := startWithBusybox(t)
	// Run after the test's other cleanups (its pods'), before the harness's.
	t.Cleanup(func() {
		// Shutdown removes the pool, and its cgroups with it.
		if err := d.Stop(); err != nil {
			t.Errorf("stopping berthd: %v", err)
			return
		}
		for _, h := range hier {
			if _, err := os.Stat(filepath.Join(h, "berth-pool")); err == nil && !otherPool {
				t.Errorf("the pool's cgroup %s outlived berthd", filepath.Join(h, "berth-pool"))
			}
		}
	})
	// The first pod starts its own pause; the pool fills after it.
	first, _ := runPod(t, d)
	removePod(t, d, first)

	parent := fmt.Sprintf("/berth-pool-test-%d/pod-b", os.Getpid())
	t.Cleanup(func() {
		for _, h := range hier {
			os.Remove(filepath.Join(h, parent))
			os.Remove(filepath.Join(h, filepath.Dir(parent)))
		}
	})
	var pooled []string
	d.WaitFor("the pool to fill", 30*time.Second, func() bool {
		pooled = pooledSandboxes(t, d)
		return len(pooled) == poolSize && !slices.ContainsFunc(pooled, func(id string) bool { return taskPid(t, d, id) == 0 })
	})
	ctx, cancel := ctxTimeout(60 * time.Second)
	defer cancel()
	// Made in the background, pooled sandboxes run on CPU time nothing
	// else wants: their shims (the pauses' parents) in the pool's idle
	// cgroup.
	cpuMount := cpuHierarchy(hier)
	shims := map[string]int{}
	for _, p := range pooled {
		shims[p] = parentPid(t, taskPid(t, d, p))
		if got := cpuCgroup(t, shims[p]); cpuMount != "" && got != "/berth-pool/shims" {
			t.Errorf("the pooled shim is in cpu cgroup %s, want /berth-pool/shims", got)
		}
	}
	if idle, err := os.ReadFile(filepath.Join(cpuMount, "berth-pool", "cpu.idle")); cpuMount != "" && err == nil && strings.TrimSpace(string(idle)) != "1" {
		t.Errorf("the pool's cgroup has cpu.idle %s, want 1", idle)
	}

	cfg := podConfig(func(c *runtimeapi.PodSandboxConfig) {
		c.Hostname = "pod-b"
		c.Linux.CgroupParent = parent
	})
	resp, err := d.Runtime.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	id := resp.PodSandboxId
	shim, ok := shims[id]
	if !ok {
		t.Fatalf("the pool held %v, but the pod got a sandbox of its own", pooled)
	}
	var info struct {
		Pid int `json:"pid"`
	}
	if err := json.Unmarshal([]byte(podStatus(t, d, id).Info["info"]), &info); err != nil || info.Pid == 0 {
		t.Fatalf("no pause pid: %v", err)
	}

	// The pause is in the pod's cgroup in every hierarchy, and the pool's
	// is gone.
	cg, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", info.Pid))
	if err != nil {
		t.Fatal(err)
	}
	want := parent + "/" + id
	for _, line := range strings.Split(strings.TrimSpace(string(cg)), "\n") {
		if f := strings.SplitN(line, ":", 3); len(f) == 3 && f[0] != "0" && f[2] != want {
			t.Errorf("pause in cgroup %s (%s), want %s", f[2], line, want)
		}
	}
	for _, h := range hier {
		if _, err := os.Stat(filepath.Join(h, "berth-pool", id)); err == nil {
			t.Errorf("the pool's cgroup %s is still there", filepath.Join(h, "berth-pool", id))
		}
	}
	// containerd asks runc for the task's processes: runc looks in the
	// cgroup its state names.
	task, err := containerdOf(t, d).TaskService().ListPids(ctx, &tasks.ListPidsRequest{ContainerID: id})
	if err != nil {
		t.Fatal(err)
	}
	if pids := task.GetProcesses(); len(pids) != 1 || int(pids[0].Pid) != info.Pid {
		t.Errorf("runc sees the pause's processes as %v, want [%d]", pids, info.Pid)
	}

	// The pod's shim is back in containerd's cgroup, and runs the pod's
	// containers: at normal priority.
	ctr := runContainer(t, d, id, cfg, ctrConfig(image, withCommand("sleep", "3600")))
	if cpuMount != "" {
		if got, want := cpuCgroup(t, shim), cpuCgroup(t, d.ContainerdPID()); got != want {
			t.Errorf("the pod's shim is in cpu cgroup %s, want containerd's %s", got, want)
		}
	}
	if got := parentPid(t, taskPid(t, d, ctr)); got != shim {
		t.Errorf("the pod's container was started by process %d, want the pooled shim %d", got, shim)
	}

	// The pod's hostname, in its UTS namespace and its files.
	if got := mustExec(t, d, ctr, "hostname"); strings.TrimSpace(got) != "pod-b" {
		t.Errorf("hostname in the pod = %q, want pod-b", got)
	}
	if got := mustExec(t, d, ctr, "cat", "/etc/hostname"); strings.TrimSpace(got) != "pod-b" {
		t.Errorf("/etc/hostname in the pod = %q, want pod-b", got)
	}
	// And the pod's record, as crictl and recovery read it.
	c, err := containerdOf(t, d).LoadContainer(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	labels, _ := c.Labels(ctx)
	spec, err := c.Spec(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if labels["io.berth.kind"] != "sandbox" || spec.Hostname != "pod-b" || spec.Linux.CgroupsPath != want {
		t.Errorf("pause container recorded as kind %q, hostname %q, cgroup %q; want sandbox, pod-b, %s",
			labels["io.berth.kind"], spec.Hostname, spec.Linux.CgroupsPath, want)
	}

	removePod(t, d, id)
	for _, h := range hier {
		if _, err := os.Stat(filepath.Join(h, want)); err == nil {
			t.Errorf("the pod's pause cgroup %s outlived the pod", filepath.Join(h, want))
		}
	}
	if left := leftovers(t, d, []string{id}, nil); len(left) > 0 {
		t.Errorf("leaked: %v", left)
	}
}

// A pooled pause that dies leaves the pool with everything it held, and the
// next pod starts as if the pool had been empty.
func TestAPooledPauseThatDiesIsRemovedAndTheNextPodStarts(t *testing.T) {
	if len(v1Hierarchies(t)) == 0 {
		t.Skip("the sandbox pool needs cgroup v1")
	}
	d := harness.Start(t, harness.WithConfig("sandbox_pool = 1\n"))
	first, _ := runPod(t, d)
	removePod(t, d, first)
	ctx, cancel := ctxTimeout(60 * time.Second)
	defer cancel()
	var pooled []string
	var pid uint32
	d.WaitFor("the pool to fill", 30*time.Second, func() bool {
		if pooled = pooledSandboxes(t, d); len(pooled) != 1 {
			return false
		}
		c, err := containerdOf(t, d).LoadContainer(ctx, pooled[0])
		if err != nil {
			return false
		}
		task, err := c.Task(ctx, nil)
		if err != nil {
			return false
		}
		st, err := task.Status(ctx)
		pid = task.Pid()
		return err == nil && st.Status == "running"
	})
	if err := syscall.Kill(int(pid), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	d.WaitFor("the dead pooled sandbox to be removed", 30*time.Second, func() bool {
		return !slices.Contains(pooledSandboxes(t, d), pooled[0])
	})
	if left := leftovers(t, d, []string{pooled[0]}, nil); len(left) > 0 {
		t.Errorf("the dead pooled sandbox left: %v", left)
	}
	id, _ := runPod(t, d)
	if id == pooled[0] {
		t.Fatal("a pod got the sandbox whose pause died")
	}
	if st := podStatus(t, d, id).Status.State; st != runtimeapi.PodSandboxState_SANDBOX_READY {
		t.Errorf("the next pod is %v, want READY", st)
	}
}

// cpuHierarchy is the mountpoint of hier's cgroup v1 cpu hierarchy, or "".
func cpuHierarchy(hier []string) string {
	for _, h := range hier {
		if slices.Contains(strings.Split(filepath.Base(h), ","), "cpu") {
			return h
		}
	}
	return ""
}

// cpuCgroup is pid's cgroup in the cpu hierarchy.
func cpuCgroup(t *testing.T, pid int) string {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		if f := strings.SplitN(line, ":", 3); len(f) == 3 && slices.Contains(strings.Split(f[1], ","), "cpu") {
			return f[2]
		}
	}
	t.Fatalf("process %d is in no cpu cgroup", pid)
	return ""
}

// parentPid is pid's parent's PID.
func parentPid(t *testing.T, pid int) int {
	t.Helper()
	p, err := procsig.Identify(pid)
	if err != nil {
		t.Fatal(err)
	}
	ppid, err := p.Parent()
	if err != nil {
		t.Fatal(err)
	}
	return ppid
}

// taskPid is the PID of container id's task in berthd's containerd, 0 when
// it has none.
func taskPid(t *testing.T, d *harness.Daemon, id string) int {
	t.Helper()
	ctx, cancel := ctxTimeout(10 * time.Second)
	defer cancel()
	c, err := containerdOf(t, d).LoadContainer(ctx, id)
	if err != nil {
		return 0
	}
	task, err := c.Task(ctx, nil)
	if err != nil {
		return 0
	}
	return int(task.Pid())
}
