package stats

import (
	"context"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/berth-cri/berth/sandbox"
)

// The cAdvisor metric names and labels kubelet's /metrics/cadvisor serves
// (PodAndContainerStatsFromCRI). Values are uint64 in the CRI, so seconds
// are whole seconds, as containerd sends them.
var (
	baseLabels    = []string{"pod", "namespace", "container", "id", "image"}
	networkLabels = append(append([]string(nil), baseLabels...), "interface")

	descCPUUsage       = desc("container_cpu_usage_seconds_total", "Cumulative CPU time consumed in seconds.", baseLabels)
	descMemoryUsage    = desc("container_memory_usage_bytes", "Current memory usage in bytes, including all memory regardless of when it was accessed.", baseLabels)
	descMemoryWorkSet  = desc("container_memory_working_set_bytes", "Current working set in bytes.", baseLabels)
	descMemoryRSS      = desc("container_memory_rss", "Size of RSS in bytes.", baseLabels)
	descMemoryFailures = desc("container_memory_failures_total", "Cumulative count of memory allocation failures (page faults).", baseLabels)
	descProcesses      = desc("container_processes", "Number of processes running inside the container.", baseLabels)
	descFsUsage        = desc("container_fs_usage_bytes", "Number of bytes that are consumed by the container on this filesystem.", baseLabels)
	descFsInodes       = desc("container_fs_inodes_total", "Number of inodes used by the container on this filesystem.", baseLabels)
	descNetRxBytes     = desc("container_network_receive_bytes_total", "Cumulative count of bytes received.", networkLabels)
	descNetRxErrors    = desc("container_network_receive_errors_total", "Cumulative count of errors encountered while receiving.", networkLabels)
	descNetTxBytes     = desc("container_network_transmit_bytes_total", "Cumulative count of bytes transmitted.", networkLabels)
	descNetTxErrors    = desc("container_network_transmit_errors_total", "Cumulative count of errors encountered while transmitting.", networkLabels)
)

func desc(name, help string, labels []string) *runtimeapi.MetricDescriptor {
	return &runtimeapi.MetricDescriptor{Name: name, Help: help, LabelKeys: labels}
}

// MetricDescriptors lists every metric PodSandboxMetrics may carry.
func MetricDescriptors() []*runtimeapi.MetricDescriptor {
	return []*runtimeapi.MetricDescriptor{
		descCPUUsage, descMemoryUsage, descMemoryWorkSet, descMemoryRSS, descMemoryFailures, descProcesses,
		descFsUsage, descFsInodes, descNetRxBytes, descNetRxErrors, descNetTxBytes, descNetTxErrors,
	}
}

// PodSandboxMetrics is a ready pod's measurement in cAdvisor's metric
// names: the pod's network, and each running container's CPU, memory,
// processes and writable layer.
func (c *Collector) PodSandboxMetrics(ctx context.Context, sb *sandbox.Sandbox) (*runtimeapi.PodSandboxMetrics, error) {
	st, err := c.PodSandboxStats(ctx, sb)
	if err != nil {
		return nil, err
	}
	md := sb.Config.GetMetadata()
	out := &runtimeapi.PodSandboxMetrics{PodSandboxId: sb.ID}
	now := time.Now().UnixNano()
	metric := func(d *runtimeapi.MetricDescriptor, t runtimeapi.MetricType, labels []string, v *runtimeapi.UInt64Value) *runtimeapi.Metric {
		if v == nil {
			return nil
		}
		return &runtimeapi.Metric{Name: d.Name, Timestamp: now, MetricType: t, LabelValues: labels, Value: &runtimeapi.UInt64Value{Value: v.Value}}
	}
	add := func(list *[]*runtimeapi.Metric, ms ...*runtimeapi.Metric) {
		for _, m := range ms {
			if m != nil {
				*list = append(*list, m)
			}
		}
	}
	// Pod-level series have no container and no image.
	if n := st.GetLinux().GetNetwork(); n != nil {
		for _, i := range n.Interfaces {
			labels := []string{md.GetName(), md.GetNamespace(), "", sb.ID, "", i.Name}
			add(&out.Metrics,
				metric(descNetRxBytes, runtimeapi.MetricType_COUNTER, labels, i.RxBytes),
				metric(descNetRxErrors, runtimeapi.MetricType_COUNTER, labels, i.RxErrors),
				metric(descNetTxBytes, runtimeapi.MetricType_COUNTER, labels, i.TxBytes),
				metric(descNetTxErrors, runtimeapi.MetricType_COUNTER, labels, i.TxErrors))
		}
	}
	for _, cs := range st.GetLinux().GetContainers() {
		a := cs.GetAttributes()
		image := ""
		if ctr, err := c.cfg.Containers.Get(a.GetId()); err == nil {
			image = ctr.ImageName
		}
		labels := []string{md.GetName(), md.GetNamespace(), a.GetMetadata().GetName(), a.GetId(), image}
		cm := &runtimeapi.ContainerMetrics{ContainerId: a.GetId()}
		if cpu := cs.GetCpu().GetUsageCoreNanoSeconds(); cpu != nil {
			add(&cm.Metrics, metric(descCPUUsage, runtimeapi.MetricType_COUNTER, labels, &runtimeapi.UInt64Value{Value: cpu.Value / uint64(time.Second)}))
		}
		m := cs.GetMemory()
		add(&cm.Metrics,
			metric(descMemoryUsage, runtimeapi.MetricType_GAUGE, labels, m.GetUsageBytes()),
			metric(descMemoryWorkSet, runtimeapi.MetricType_GAUGE, labels, m.GetWorkingSetBytes()),
			metric(descMemoryRSS, runtimeapi.MetricType_GAUGE, labels, m.GetRssBytes()),
			metric(descMemoryFailures, runtimeapi.MetricType_COUNTER, labels, m.GetPageFaults()),
			metric(descFsUsage, runtimeapi.MetricType_GAUGE, labels, cs.GetWritableLayer().GetUsedBytes()),
			metric(descFsInodes, runtimeapi.MetricType_GAUGE, labels, cs.GetWritableLayer().GetInodesUsed()))
		if ctr, err := c.cfg.Containers.Get(a.GetId()); err == nil && ctr.Status().State == runtimeapi.ContainerState_CONTAINER_RUNNING {
			if s, _, _, err := c.cgroup(ctr.CgroupsPath); err == nil {
				add(&cm.Metrics, metric(descProcesses, runtimeapi.MetricType_GAUGE, labels, &runtimeapi.UInt64Value{Value: s.pids}))
			}
		}
		out.ContainerMetrics = append(out.ContainerMetrics, cm)
	}
	return out, nil
}
