package integration

import (
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/berth-cri/berth/test/harness"
)

func containerStats(t *testing.T, d *harness.Daemon, id string) *runtimeapi.ContainerStats {
	t.Helper()
	resp, err := d.Runtime.ContainerStats(ctxBG(t), &runtimeapi.ContainerStatsRequest{ContainerId: id})
	if err != nil {
		t.Fatalf("ContainerStats %s: %v", id, err)
	}
	return resp.Stats
}

func TestStats(t *testing.T) {
	d, image := startWithBusybox(t)
	podID, podCfg := runPod(t, d, withLabels(map[string]string{"stats": "yes"}))
	burner := runContainer(t, d, podID, podCfg, ctrConfig(image, withShell("while :; do :; done")))
	idle := runContainer(t, d, podID, podCfg, ctrConfig(image))

	t.Run("CPUOfABusyContainer", func(t *testing.T) {
		first := containerStats(t, d, burner)
		time.Sleep(1500 * time.Millisecond)
		second := containerStats(t, d, burner)
		if first.GetAttributes().GetId() != burner || first.GetAttributes().GetMetadata().GetName() == "" {
			t.Fatalf("attributes = %v", first.GetAttributes())
		}
		// On a node shared with a load of 10 (2 cores) a spinning shell
		// gets about a fifth of a core; an idle one (below) none.
		used := second.GetCpu().GetUsageCoreNanoSeconds().GetValue() - first.GetCpu().GetUsageCoreNanoSeconds().GetValue()
		if used < 150_000_000 {
			t.Fatalf("a spinning container used %d ns of CPU in 1.5 s, want at least 0.15 s", used)
		}
		if cores := second.GetCpu().GetUsageNanoCores().GetValue(); cores < 100_000_000 {
			t.Fatalf("usage_nano_cores = %d, want at least 0.1 core for a spinning shell", cores)
		}
		containerStats(t, d, idle) // a first sample, for usage_nano_cores to have a second
		time.Sleep(1100 * time.Millisecond)
		idleStats := containerStats(t, d, idle)
		if cores := idleStats.GetCpu().GetUsageNanoCores(); cores == nil || cores.Value > 50_000_000 {
			t.Fatalf("an idle container's usage_nano_cores = %v, want set and near 0", cores)
		}
	})

	t.Run("MemoryGrowsWithAllocation", func(t *testing.T) {
		before := containerStats(t, d, idle).GetMemory()
		if before.GetWorkingSetBytes() == nil || before.GetUsageBytes() == nil || before.GetRssBytes() == nil || before.GetPageFaults() == nil {
			t.Fatalf("memory stats miss fields kubelet reads: %v", before)
		}
		// tmpfs pages are charged to the writer's cgroup and cannot be
		// reclaimed as inactive file cache: they count in the working set.
		mustExec(t, d, idle, "dd", "if=/dev/zero", "of=/dev/shm/fill", "bs=1M", "count=48")
		time.Sleep(1100 * time.Millisecond)
		after := containerStats(t, d, idle).GetMemory()
		if grew := int64(after.GetWorkingSetBytes().GetValue()) - int64(before.GetWorkingSetBytes().GetValue()); grew < 40<<20 {
			t.Fatalf("working set grew by %d bytes after writing 48 MiB to tmpfs, want about 48 MiB (before %v, after %v)", grew, before, after)
		}
		if after.GetPageFaults().GetValue() <= before.GetPageFaults().GetValue() {
			t.Fatalf("page faults did not grow: %d -> %d", before.GetPageFaults().GetValue(), after.GetPageFaults().GetValue())
		}
	})

	t.Run("WritableLayer", func(t *testing.T) {
		before := containerStats(t, d, burner).GetWritableLayer()
		if before.GetFsId().GetMountpoint() == "" || before.GetUsedBytes() == nil || before.GetInodesUsed() == nil {
			t.Fatalf("writable layer = %v, want used bytes, inodes and an fs_id mountpoint", before)
		}
		mustExec(t, d, burner, "dd", "if=/dev/zero", "of=/layer-fill", "bs=1M", "count=8")
		d.WaitFor("the writable layer to show 8 MiB more", 20*time.Second, func() bool {
			after := containerStats(t, d, burner).GetWritableLayer()
			return after.GetUsedBytes().GetValue() >= before.GetUsedBytes().GetValue()+8<<20
		})
	})

	t.Run("ListFilters", func(t *testing.T) {
		resp, err := d.Runtime.ListContainerStats(ctxBG(t), &runtimeapi.ListContainerStatsRequest{Filter: &runtimeapi.ContainerStatsFilter{PodSandboxId: podID}})
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.Stats) != 2 {
			t.Fatalf("ListContainerStats of the pod: %d entries, want 2", len(resp.Stats))
		}
		resp, err = d.Runtime.ListContainerStats(ctxBG(t), &runtimeapi.ListContainerStatsRequest{Filter: &runtimeapi.ContainerStatsFilter{Id: idle}})
		if err != nil || len(resp.Stats) != 1 || resp.Stats[0].Attributes.Id != idle {
			t.Fatalf("ListContainerStats by ID: %v, %v", resp, err)
		}
		resp, err = d.Runtime.ListContainerStats(ctxBG(t), &runtimeapi.ListContainerStatsRequest{Filter: &runtimeapi.ContainerStatsFilter{Id: "no-such-container"}})
		if err != nil || len(resp.Stats) != 0 {
			t.Fatalf("ListContainerStats of an unknown ID: %v, %v; want none", resp, err)
		}
		pods, err := d.Runtime.ListPodSandboxStats(ctxBG(t), &runtimeapi.ListPodSandboxStatsRequest{Filter: &runtimeapi.PodSandboxStatsFilter{LabelSelector: map[string]string{"stats": "yes"}}})
		if err != nil || len(pods.Stats) != 1 || pods.Stats[0].Attributes.Id != podID {
			t.Fatalf("ListPodSandboxStats by label: %v, %v", pods, err)
		}
	})

	t.Run("PodSandboxStats", func(t *testing.T) {
		resp, err := d.Runtime.PodSandboxStats(ctxBG(t), &runtimeapi.PodSandboxStatsRequest{PodSandboxId: podID})
		if err != nil {
			t.Fatal(err)
		}
		l := resp.Stats.GetLinux()
		if len(l.GetContainers()) != 2 {
			t.Errorf("pod stats carry %d containers, want 2", len(l.GetContainers()))
		}
		if l.GetCpu().GetUsageCoreNanoSeconds().GetValue() < 500_000_000 || l.GetMemory().GetWorkingSetBytes().GetValue() < 40<<20 {
			t.Errorf("pod cpu %v memory %v, want the busy and the filled container's usage added up", l.GetCpu(), l.GetMemory())
		}
		// pause, the spinning shell and sleep.
		if n := l.GetProcess().GetProcessCount().GetValue(); n < 3 {
			t.Errorf("process count = %d, want at least 3", n)
		}
		if def := l.GetNetwork().GetDefaultInterface(); def.GetName() != "eth0" || def.GetRxBytes() == nil || def.GetTxBytes() == nil {
			t.Errorf("network = %v, want eth0's counters", l.GetNetwork())
		}
	})

	t.Run("PodSandboxStatsOfNoPod", func(t *testing.T) {
		// kubelet probes with an empty ID: anything but Unimplemented says
		// the runtime has pod stats.
		_, err := d.Runtime.PodSandboxStats(ctxBG(t), &runtimeapi.PodSandboxStatsRequest{})
		if status.Code(err) != codes.InvalidArgument {
			t.Errorf("PodSandboxStats(\"\"): %v, want InvalidArgument", err)
		}
		_, err = d.Runtime.PodSandboxStats(ctxBG(t), &runtimeapi.PodSandboxStatsRequest{PodSandboxId: "no-such-pod"})
		if status.Code(err) != codes.NotFound {
			t.Errorf("PodSandboxStats of an unknown pod: %v, want NotFound", err)
		}
	})
}
