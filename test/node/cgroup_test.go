package node

import (
	"os"
	"path"
	"strings"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// burstable is a pod's kubelet-style systemd parent, and the path systemd
// gives it: kubepods.slice/kubepods-burstable.slice/<slice>.
func burstable() (slice, dir string) {
	uid := strings.ReplaceAll(podConfig().Metadata.Uid, "-", "_")
	slice = "kubepods-burstable-pod" + uid + ".slice"
	return slice, "/kubepods.slice/kubepods-burstable.slice/" + slice
}

// TestPodCgroupInSlice: with kubelet's systemd parent the pod's pause and
// its containers each live in a scope named for them (containerd's
// slice:prefix:id) inside the pod's slice under kubepods.slice, where
// kubelet's QoS and eviction apply.
func TestPodCgroupInSlice(t *testing.T) {
	slice, dir := burstable()
	pod, cfg := runPod(t, withParent(slice))
	id := runCtr(t, pod, cfg)
	_, info := ctrStatus(t, id)
	checkScope(t, "the container", procCgroup(t, info.Pid), dir, id)

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
	checkScope(t, "the pause", procCgroup(t, sb.Pid), dir, pod)
}

func checkScope(t *testing.T, what, cgroup, dir, id string) {
	t.Helper()
	scope := path.Base(cgroup)
	if path.Dir(cgroup) != dir || !strings.HasSuffix(scope, "-"+id+".scope") {
		t.Errorf("%s is in cgroup %s, want %s/<prefix>-%s.scope", what, cgroup, dir, id)
	}
}

// TestPodSandboxResources: a pod resize as kubelet does it with the
// systemd driver: kubelet sets the pod slice's MemoryMax through systemd,
// then calls UpdatePodSandboxResources (the CRI: "after the Kubelet
// reconfigures the pod-level cgroups"). The call is accepted, the limit
// shows in the slice's memory.max and stays, and it bounds the pod's
// containers, whose scopes are inside that slice.
func TestPodSandboxResources(t *testing.T) {
	slice, dir := burstable()
	pod, cfg := runPod(t, withParent(slice))
	id := runCtr(t, pod, cfg)
	run(t, "systemctl", "set-property", "--runtime", slice, "MemoryMax=201326592")
	ctx, cancel := ctxTimeout(time.Minute)
	defer cancel()
	if _, err := rt.UpdatePodSandboxResources(ctx, &runtimeapi.UpdatePodSandboxResourcesRequest{
		PodSandboxId: pod,
		Resources:    &runtimeapi.LinuxContainerResources{MemoryLimitInBytes: 192 << 20},
	}); err != nil {
		t.Fatalf("UpdatePodSandboxResources: %v", err)
	}
	if got := readCgroup(t, dir, "memory.max"); got != "201326592" {
		t.Errorf("%s/memory.max is %s after the resize to 192 MiB", dir, got)
	}
	_, info := ctrStatus(t, id)
	if cg := procCgroup(t, info.Pid); !strings.HasPrefix(cg, dir+"/") {
		t.Errorf("the container is in %s, outside the pod slice %s whose limit bounds the pod", cg, dir)
	}
	if out := execOut(t, id, "echo", "alive"); out != "alive" {
		t.Errorf("exec after the resize printed %q", out)
	}
}

// cgroup2Options is the cgroup2 superblock's options as mounted on the
// node's /sys/fs/cgroup.
func cgroup2Options(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile("/proc/1/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(data), "\n") {
		f := strings.Fields(l)
		if len(f) > 4 && f[4] == cgroupRoot {
			if _, after, ok := strings.Cut(l, " - cgroup2 "); ok {
				fs := strings.Fields(after)
				return fs[len(fs)-1]
			}
		}
	}
	t.Fatalf("no cgroup2 mount on %s in /proc/1/mountinfo", cgroupRoot)
	return ""
}

func hasDelegation(opts string) bool {
	o := "," + opts + ","
	return strings.Contains(o, ",nsdelegate,") && strings.Contains(o, ",memory_recursiveprot,")
}

// TestCgroupMountFlagsKept: starting containers, privileged or not, must
// not remount the node's single cgroup2 superblock without nsdelegate and
// memory_recursiveprot (containerd#12952).
func TestCgroupMountFlagsKept(t *testing.T) {
	before := cgroup2Options(t)
	if !hasDelegation(before) {
		t.Fatalf("the node's cgroup2 mount has %q before any container: the check needs nsdelegate,memory_recursiveprot", before)
	}
	plain, plainCfg := runPod(t)
	priv, privCfg := runPod(t, privilegedPod())
	quick := withShell("trap 'exit 0' TERM; sleep 3600 & wait")
	for i := 0; i < 10; i++ {
		for _, c := range []struct {
			pod  string
			cfg  *runtimeapi.PodSandboxConfig
			opts []ctrOption
		}{{plain, plainCfg, []ctrOption{quick}}, {priv, privCfg, []ctrOption{quick, privileged()}}} {
			id := runCtr(t, c.pod, c.cfg, c.opts...)
			if now := cgroup2Options(t); !hasDelegation(now) {
				t.Fatalf("container %d (privileged %v) changed the cgroup2 mount from %q to %q", i, c.cfg.Linux.SecurityContext.Privileged, before, now)
			}
			stopCtr(t, id)
			removeCtr(t, id)
			if now := cgroup2Options(t); !hasDelegation(now) {
				t.Fatalf("stopping container %d (privileged %v) changed the cgroup2 mount from %q to %q", i, c.cfg.Linux.SecurityContext.Privileged, before, now)
			}
		}
	}
	if after := cgroup2Options(t); !hasDelegation(after) {
		t.Errorf("after 20 containers the cgroup2 mount is %q, was %q", after, before)
	}
}

// TestCgroupNamespace: an unprivileged container has its own cgroup
// namespace and sees its own cgroup only; a privileged one sees the node's.
func TestCgroupNamespace(t *testing.T) {
	pod, cfg := runPod(t)
	id := runCtr(t, pod, cfg)
	if got := execOut(t, id, "cat", "/proc/self/cgroup"); got != "0::/" {
		t.Errorf("unprivileged container: /proc/self/cgroup is %q, want 0::/", got)
	}
	// Its own cgroup has no children: no directory in its /sys/fs/cgroup.
	if dirs := execOut(t, id, "find", "/sys/fs/cgroup", "-mindepth", "1", "-maxdepth", "1", "-type", "d"); dirs != "" {
		t.Errorf("unprivileged container sees cgroups other than its own in /sys/fs/cgroup:\n%s", dirs)
	}
	if got := execOut(t, id, "ls", "/sys/fs/cgroup"); !strings.Contains(got, "memory.max") {
		t.Errorf("unprivileged container's /sys/fs/cgroup has no memory.max (its own cgroup's files): %q", got)
	}

	ppod, pcfg := runPod(t, privilegedPod())
	pid := runCtr(t, ppod, pcfg, privileged())
	_, info := ctrStatus(t, pid)
	if got, want := execOut(t, pid, "cat", "/proc/self/cgroup"), "0::"+procCgroup(t, info.Pid); got != want {
		t.Errorf("privileged container: /proc/self/cgroup is %q, want the node's path %q", got, want)
	}
	root := execOut(t, pid, "ls", "/sys/fs/cgroup")
	for _, d := range []string{"system.slice", "kubepods.slice", "init.scope"} {
		if !strings.Contains(root, d) {
			t.Errorf("privileged container's /sys/fs/cgroup has no %s: %q", d, root)
		}
	}
}

// TestUpdateContainerResources: UpdateContainerResources rewrites the
// container's memory.max and cpu.max.
func TestUpdateContainerResources(t *testing.T) {
	pod, cfg := runPod(t)
	id := runCtr(t, pod, cfg, withResources(&runtimeapi.LinuxContainerResources{
		MemoryLimitInBytes: 256 << 20, CpuPeriod: 100000, CpuQuota: 100000,
	}))
	_, info := ctrStatus(t, id)
	cg := procCgroup(t, info.Pid)
	if m, c := readCgroup(t, cg, "memory.max"), readCgroup(t, cg, "cpu.max"); m != "268435456" || c != "100000 100000" {
		t.Fatalf("at creation memory.max %s cpu.max %q, want 268435456 and \"100000 100000\"", m, c)
	}
	ctx, cancel := ctxTimeout(time.Minute)
	defer cancel()
	if _, err := rt.UpdateContainerResources(ctx, &runtimeapi.UpdateContainerResourcesRequest{
		ContainerId: id,
		Linux:       &runtimeapi.LinuxContainerResources{MemoryLimitInBytes: 128 << 20, CpuPeriod: 100000, CpuQuota: 50000},
	}); err != nil {
		t.Fatalf("UpdateContainerResources: %v", err)
	}
	if m := readCgroup(t, cg, "memory.max"); m != "134217728" {
		t.Errorf("memory.max %s after the update, want 134217728", m)
	}
	if c := readCgroup(t, cg, "cpu.max"); c != "50000 100000" {
		t.Errorf("cpu.max %q after the update, want \"50000 100000\"", c)
	}
}
