package integration

import (
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/berth-cri/berth/test/harness"
)

// podMetrics lists the metrics of one pod, through the unary RPC or the
// stream.
func podMetrics(t *testing.T, d *harness.Daemon, podID string, stream bool) *runtimeapi.PodSandboxMetrics {
	t.Helper()
	var all []*runtimeapi.PodSandboxMetrics
	if stream {
		s, err := d.Runtime.StreamPodSandboxMetrics(ctxBG(t), &runtimeapi.StreamPodSandboxMetricsRequest{})
		if err != nil {
			t.Fatalf("StreamPodSandboxMetrics: %v", err)
		}
		for {
			resp, err := s.Recv()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("StreamPodSandboxMetrics: %v", err)
			}
			all = append(all, resp.PodSandboxMetrics...)
		}
	} else {
		resp, err := d.Runtime.ListPodSandboxMetrics(ctxBG(t), &runtimeapi.ListPodSandboxMetricsRequest{})
		if err != nil {
			t.Fatalf("ListPodSandboxMetrics: %v", err)
		}
		all = resp.PodMetrics
	}
	for _, pm := range all {
		if pm.PodSandboxId == podID {
			return pm
		}
	}
	t.Fatalf("no metrics for pod %s among %d pods", podID, len(all))
	return nil
}

// ctrMetric finds a container's metric by name and extra label values.
func ctrMetric(pm *runtimeapi.PodSandboxMetrics, ctrID, name string, extra ...string) *runtimeapi.Metric {
	for _, cm := range pm.ContainerMetrics {
		if cm.ContainerId != ctrID {
			continue
		}
		for _, m := range cm.Metrics {
			if m.Name == name && len(m.LabelValues) >= 5 && slices.Equal(m.LabelValues[5:], extra) {
				return m
			}
		}
	}
	return nil
}

func TestPodSandboxMetrics(t *testing.T) {
	d, image := startWithBusybox(t)
	podID, podCfg := runPod(t, d)
	burnerCfg := ctrConfig(image, withShell("while :; do :; done"), withResources(&runtimeapi.LinuxContainerResources{
		CpuShares: 512, MemoryLimitInBytes: 256 << 20, CpuPeriod: 100000, CpuQuota: 150000,
	}))
	burner := runContainer(t, d, podID, podCfg, burnerCfg)
	filler := runContainer(t, d, podID, podCfg, ctrConfig(image))

	resp, err := d.Runtime.ListMetricDescriptors(ctxBG(t), &runtimeapi.ListMetricDescriptorsRequest{})
	if err != nil {
		t.Fatalf("ListMetricDescriptors: %v", err)
	}
	descs := map[string]*runtimeapi.MetricDescriptor{}
	for _, desc := range resp.Descriptors {
		descs[desc.Name] = desc
	}
	want := []string{"pod", "namespace", "container", "id", "image"}
	if d := descs["container_cpu_usage_seconds_total"]; d == nil || !slices.Equal(d.LabelKeys, want) || d.Help == "" {
		t.Fatalf("container_cpu_usage_seconds_total described as %v, want help and labels %v", d, want)
	}

	t.Run("CPURisesWithLabels", func(t *testing.T) {
		first := ctrMetric(podMetrics(t, d, podID, false), burner, "container_cpu_usage_seconds_total")
		if first == nil {
			t.Fatal("no container_cpu_usage_seconds_total for the busy container")
		}
		md := podCfg.Metadata
		if l := first.LabelValues; l[0] != md.Name || l[1] != md.Namespace || l[2] != burnerCfg.Metadata.Name || l[3] != burner || !strings.Contains(l[4], "busybox") {
			t.Errorf("labels %v, want pod %s, namespace %s, container %s, id %s and the busybox image", l, md.Name, md.Namespace, burnerCfg.Metadata.Name, burner)
		}
		if first.MetricType != runtimeapi.MetricType_COUNTER || first.Timestamp == 0 {
			t.Errorf("type %v timestamp %d, want a timestamped counter", first.MetricType, first.Timestamp)
		}
		// The value is whole seconds: a spinning shell adds one within a
		// few seconds, even on a node shared with a load of 10.
		var last uint64
		d.WaitFor("CPU seconds of a spinning container to rise", 30*time.Second, func() bool {
			last = ctrMetric(podMetrics(t, d, podID, false), burner, "container_cpu_usage_seconds_total").GetValue().GetValue()
			return last > first.GetValue().GetValue()
		})
		idle := ctrMetric(podMetrics(t, d, podID, false), filler, "container_cpu_usage_seconds_total").GetValue().GetValue()
		if idle >= last {
			t.Errorf("the idle container used %d s of CPU, the spinning one %d s", idle, last)
		}
		pm := podMetrics(t, d, podID, false)
		for name, v := range map[string]uint64{
			"container_spec_cpu_shares":         512,
			"container_spec_cpu_quota":          150000,
			"container_spec_memory_limit_bytes": 256 << 20,
		} {
			if got := ctrMetric(pm, burner, name); got.GetValue().GetValue() != v {
				t.Errorf("%s = %v, want %d", name, got, v)
			}
		}
		// The shell and its subshell-free loop: one process, one thread.
		if n := ctrMetric(pm, burner, "container_processes").GetValue().GetValue(); n != 1 {
			t.Errorf("container_processes = %d, want 1", n)
		}
	})

	t.Run("WorkingSetAboveAllocation", func(t *testing.T) {
		// tmpfs pages are charged to the writer's cgroup and are not
		// reclaimable: they are working set.
		mustExec(t, d, filler, "dd", "if=/dev/zero", "of=/dev/shm/fill", "bs=1M", "count=48")
		var ws, usage uint64
		d.WaitFor("the working set to show 48 MiB", 10*time.Second, func() bool {
			pm := podMetrics(t, d, podID, true)
			ws = ctrMetric(pm, filler, "container_memory_working_set_bytes").GetValue().GetValue()
			usage = ctrMetric(pm, filler, "container_memory_usage_bytes").GetValue().GetValue()
			return ws >= 48<<20
		})
		if usage < ws {
			t.Errorf("usage %d below working set %d", usage, ws)
		}
	})

	t.Run("PodNetwork", func(t *testing.T) {
		pm := podMetrics(t, d, podID, false)
		var rx *runtimeapi.Metric
		for _, m := range pm.Metrics {
			if m.Name == "container_network_transmit_packets_total" && m.LabelValues[5] == "eth0" {
				rx = m
			}
		}
		if rx == nil {
			t.Fatalf("no eth0 counters among the pod's metrics %v", pm.Metrics)
		}
		if l := rx.LabelValues; l[0] != podCfg.Metadata.Name || l[2] != "" || l[3] != podID {
			t.Errorf("pod network labels %v, want the pod's name, no container, the sandbox ID", l)
		}
	})
}
