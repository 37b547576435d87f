package node

import (
	"strconv"
	"strings"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// cpuUsec is usage_usec of the cgroup's cpu.stat.
func cpuUsec(t *testing.T, cg string) uint64 {
	t.Helper()
	for _, l := range strings.Split(readCgroup(t, cg, "cpu.stat"), "\n") {
		if v, ok := strings.CutPrefix(l, "usage_usec "); ok {
			n, _ := strconv.ParseUint(v, 10, 64)
			return n
		}
	}
	t.Fatalf("no usage_usec in %s/cpu.stat", cg)
	return 0
}

// TestStats: ContainerStats, ListContainerStats, ListPodSandboxStats and
// the cAdvisor-style ListPodSandboxMetrics report the CPU and memory the
// container's cgroup v2 files hold.
func TestStats(t *testing.T) {
	pod, cfg := runPod(t)
	// Some CPU time and a few MiB of memory (the shell's variable), then idle.
	id := runCtr(t, pod, cfg, withShell(`i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; x=$(head -c 4000000 /dev/zero | tr '\0' a); sleep 3600`))
	_, info := ctrStatus(t, id)
	cg := procCgroup(t, info.Pid)
	waitFor(t, "the container's loop to use CPU", 2*time.Minute, func() bool { return cpuUsec(t, cg) > 0 })

	ctx, cancel := ctxTimeout(2 * time.Minute)
	defer cancel()
	before := cpuUsec(t, cg) * 1000
	cs, err := rt.ContainerStats(ctx, &runtimeapi.ContainerStatsRequest{ContainerId: id})
	if err != nil {
		t.Fatalf("ContainerStats: %v", err)
	}
	after := cpuUsec(t, cg) * 1000
	cpu := cs.GetStats().GetCpu().GetUsageCoreNanoSeconds().GetValue()
	// Reported from cpu.stat: between the two readings around the call.
	if cpu == 0 || cpu < before || cpu > after {
		t.Errorf("ContainerStats CPU %d ns, cpu.stat said %d then %d ns", cpu, before, after)
	}
	if ws := cs.GetStats().GetMemory().GetWorkingSetBytes().GetValue(); ws == 0 {
		t.Errorf("ContainerStats working set 0; memory.current is %s", readCgroup(t, cg, "memory.current"))
	}

	list, err := rt.ListContainerStats(ctx, &runtimeapi.ListContainerStatsRequest{Filter: &runtimeapi.ContainerStatsFilter{PodSandboxId: pod}})
	if err != nil {
		t.Fatalf("ListContainerStats: %v", err)
	}
	if len(list.Stats) != 1 || list.Stats[0].GetCpu().GetUsageCoreNanoSeconds().GetValue() == 0 ||
		list.Stats[0].GetMemory().GetWorkingSetBytes().GetValue() == 0 {
		t.Errorf("ListContainerStats for the pod: %v, want the container with CPU and memory", list.Stats)
	}

	ps, err := rt.ListPodSandboxStats(ctx, &runtimeapi.ListPodSandboxStatsRequest{Filter: &runtimeapi.PodSandboxStatsFilter{Id: pod}})
	if err != nil {
		t.Fatalf("ListPodSandboxStats: %v", err)
	}
	if len(ps.Stats) != 1 {
		t.Fatalf("ListPodSandboxStats for the pod: %d entries", len(ps.Stats))
	}
	l := ps.Stats[0].GetLinux()
	if l.GetCpu().GetUsageCoreNanoSeconds().GetValue() == 0 || l.GetMemory().GetWorkingSetBytes().GetValue() == 0 {
		t.Errorf("ListPodSandboxStats: pod CPU %v memory %v, want both non-zero", l.GetCpu(), l.GetMemory())
	}
	if len(l.GetContainers()) != 1 || l.GetContainers()[0].GetCpu().GetUsageCoreNanoSeconds().GetValue() == 0 {
		t.Errorf("ListPodSandboxStats: containers %v, want the container with CPU", l.GetContainers())
	}

	// The metrics may be sampled on berthd's own schedule: poll.
	var got map[string]uint64
	metricsNonZero := func() bool {
		ctx, cancel := ctxTimeout(time.Minute)
		defer cancel()
		m, err := rt.ListPodSandboxMetrics(ctx, &runtimeapi.ListPodSandboxMetricsRequest{})
		if err != nil {
			t.Fatalf("ListPodSandboxMetrics: %v", err)
		}
		got = map[string]uint64{}
		for _, p := range m.GetPodMetrics() {
			if p.GetPodSandboxId() != pod {
				continue
			}
			for _, c := range p.GetContainerMetrics() {
				if c.GetContainerId() != id {
					continue
				}
				for _, mm := range c.GetMetrics() {
					got[mm.GetName()] = mm.GetValue().GetValue()
				}
			}
		}
		return got["container_cpu_usage_seconds_total"] > 0 && got["container_memory_working_set_bytes"] > 0
	}
	deadline := time.Now().Add(2 * time.Minute)
	for !metricsNonZero() && time.Now().Before(deadline) {
		time.Sleep(2 * time.Second)
	}
	for _, name := range []string{"container_cpu_usage_seconds_total", "container_memory_working_set_bytes"} {
		if got[name] == 0 {
			t.Errorf("ListPodSandboxMetrics: %s of the container still 0 after 2 min (metrics %v)", name, got)
		}
	}
}

// TestOOMKilled: a container over its memory limit is reported OOMKilled
// (memory.events' oom_kill on v2).
func TestOOMKilled(t *testing.T) {
	pod, cfg := runPod(t)
	// tail keeps its last ten lines; /dev/zero has no newline, so the one
	// line grows until the memory limit stops it.
	id := runCtr(t, pod, cfg, func(c *runtimeapi.ContainerConfig) { c.Command = []string{"tail", "/dev/zero"} },
		withResources(&runtimeapi.LinuxContainerResources{MemoryLimitInBytes: 32 << 20, MemorySwapLimitInBytes: 32 << 20}))
	var st *runtimeapi.ContainerStatus
	waitFor(t, "the container to exit", 3*time.Minute, func() bool {
		st, _ = ctrStatus(t, id)
		return st.State == runtimeapi.ContainerState_CONTAINER_EXITED
	})
	if st.Reason != "OOMKilled" || st.ExitCode != 137 {
		t.Errorf("exit code %d reason %q, want 137 OOMKilled", st.ExitCode, st.Reason)
	}
}
