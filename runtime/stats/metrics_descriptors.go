package stats

import (
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// The label keys of every metric, as cAdvisor names them: kubelet turns
// descriptors into Prometheus descriptions for /metrics/cadvisor, and
// dashboards select on these. Pod-level metrics (the pod's network) have
// an empty container and image, and the sandbox ID as id.
var (
	baseLabels    = []string{"pod", "namespace", "container", "id", "image"}
	networkLabels = withLabels(baseLabels, "interface")
	deviceLabels  = withLabels(baseLabels, "device")
)

func withLabels(base []string, extra ...string) []string {
	return append(append(make([]string, 0, len(base)+len(extra)), base...), extra...)
}

// metricDef is one metric kubelet's CRI stats provider can show.
type metricDef struct {
	name, help string
	labels     []string
	typ        runtimeapi.MetricType
}

const (
	counter = runtimeapi.MetricType_COUNTER
	gauge   = runtimeapi.MetricType_GAUGE
)

// The metrics Berth reports: the cAdvisor names kubelet's legacy stats
// provider shows (critest's expectedMetricDescriptorNames), with
// cAdvisor's help texts. Left out, as in containerd: hugetlb and pressure
// (PSI, cgroup v2 only), the memory reservation (CRI has none) and soft
// ulimits.
var (
	cpuUsageSeconds        = metricDef{"container_cpu_usage_seconds_total", "Cumulative cpu time consumed in seconds.", baseLabels, counter}
	cpuUserSeconds         = metricDef{"container_cpu_user_seconds_total", "Cumulative user cpu time consumed in seconds.", baseLabels, counter}
	cpuSystemSeconds       = metricDef{"container_cpu_system_seconds_total", "Cumulative system cpu time consumed in seconds.", baseLabels, counter}
	cpuCfsPeriods          = metricDef{"container_cpu_cfs_periods_total", "Number of elapsed enforcement period intervals.", baseLabels, counter}
	cpuCfsThrottledPeriods = metricDef{"container_cpu_cfs_throttled_periods_total", "Number of throttled period intervals.", baseLabels, counter}
	cpuCfsThrottledSeconds = metricDef{"container_cpu_cfs_throttled_seconds_total", "Total time duration the container has been throttled.", baseLabels, counter}

	memUsage        = metricDef{"container_memory_usage_bytes", "Current memory usage in bytes, including all memory regardless of when it was accessed", baseLabels, gauge}
	memMaxUsage     = metricDef{"container_memory_max_usage_bytes", "Maximum memory usage recorded in bytes", baseLabels, gauge}
	memWorkingSet   = metricDef{"container_memory_working_set_bytes", "Current working set in bytes.", baseLabels, gauge}
	memRSS          = metricDef{"container_memory_rss", "Size of RSS in bytes.", baseLabels, gauge}
	memCache        = metricDef{"container_memory_cache", "Number of bytes of page cache memory.", baseLabels, gauge}
	memMappedFile   = metricDef{"container_memory_mapped_file", "Size of memory mapped files in bytes.", baseLabels, gauge}
	memSwap         = metricDef{"container_memory_swap", "Container swap usage in bytes.", baseLabels, gauge}
	memKernel       = metricDef{"container_memory_kernel_usage", "Size of kernel memory allocated in bytes.", baseLabels, gauge}
	memFailcnt      = metricDef{"container_memory_failcnt", "Number of memory usage hits limits", baseLabels, counter}
	memFailures     = metricDef{"container_memory_failures_total", "Cumulative count of memory allocation failures.", withLabels(baseLabels, "failure_type", "scope"), counter}
	memActiveFile   = metricDef{"container_memory_total_active_file_bytes", "Current total active file in bytes.", baseLabels, gauge}
	memInactiveFile = metricDef{"container_memory_total_inactive_file_bytes", "Current total inactive file in bytes.", baseLabels, gauge}
	oomEvents       = metricDef{"container_oom_events_total", "Count of out of memory events observed for the container", baseLabels, counter}

	netRxBytes    = metricDef{"container_network_receive_bytes_total", "Cumulative count of bytes received", networkLabels, counter}
	netRxPackets  = metricDef{"container_network_receive_packets_total", "Cumulative count of packets received", networkLabels, counter}
	netRxDropped  = metricDef{"container_network_receive_packets_dropped_total", "Cumulative count of packets dropped while receiving", networkLabels, counter}
	netRxErrors   = metricDef{"container_network_receive_errors_total", "Cumulative count of errors encountered while receiving", networkLabels, counter}
	netTxBytes    = metricDef{"container_network_transmit_bytes_total", "Cumulative count of bytes transmitted", networkLabels, counter}
	netTxPackets  = metricDef{"container_network_transmit_packets_total", "Cumulative count of packets transmitted", networkLabels, counter}
	netTxDropped  = metricDef{"container_network_transmit_packets_dropped_total", "Cumulative count of packets dropped while transmitting", networkLabels, counter}
	netTxErrors   = metricDef{"container_network_transmit_errors_total", "Cumulative count of errors encountered while transmitting", networkLabels, counter}
	fsUsage       = metricDef{"container_fs_usage_bytes", "Number of bytes that are consumed by the container on this filesystem.", deviceLabels, gauge}
	fsLimit       = metricDef{"container_fs_limit_bytes", "Number of bytes that can be consumed by the container on this filesystem.", deviceLabels, gauge}
	fsInodesTotal = metricDef{"container_fs_inodes_total", "Number of Inodes", deviceLabels, gauge}
	fsInodesFree  = metricDef{"container_fs_inodes_free", "Number of available Inodes", deviceLabels, gauge}
	fsReads       = metricDef{"container_fs_reads_total", "Cumulative count of reads completed", deviceLabels, counter}
	fsReadBytes   = metricDef{"container_fs_reads_bytes_total", "Cumulative count of bytes read", deviceLabels, counter}
	fsWrites      = metricDef{"container_fs_writes_total", "Cumulative count of writes completed", deviceLabels, counter}
	fsWriteBytes  = metricDef{"container_fs_writes_bytes_total", "Cumulative count of bytes written", deviceLabels, counter}
	blkioUsage    = metricDef{"container_blkio_device_usage_total", "Blkio Device bytes usage", withLabels(deviceLabels, "major", "minor", "operation"), counter}
	processes     = metricDef{"container_processes", "Number of processes running inside the container.", baseLabels, gauge}
	threads       = metricDef{"container_threads", "Number of threads running inside the container", baseLabels, gauge}
	threadsMax    = metricDef{"container_threads_max", "Maximum number of threads allowed inside the container, infinity if value is zero", baseLabels, gauge}
	fileDescs     = metricDef{"container_file_descriptors", "Number of open file descriptors for the container.", baseLabels, gauge}
	sockets       = metricDef{"container_sockets", "Number of open sockets for the container.", baseLabels, gauge}
	lastSeen      = metricDef{"container_last_seen", "Last time a container was seen by the exporter", baseLabels, gauge}
	startTime     = metricDef{"container_start_time_seconds", "Start time of the container since unix epoch in seconds.", baseLabels, gauge}
	specCPUPeriod = metricDef{"container_spec_cpu_period", "CPU period of the container.", baseLabels, gauge}
	specCPUQuota  = metricDef{"container_spec_cpu_quota", "CPU quota of the container.", baseLabels, gauge}
	specCPUShares = metricDef{"container_spec_cpu_shares", "CPU share of the container.", baseLabels, gauge}
	specMemLimit  = metricDef{"container_spec_memory_limit_bytes", "Memory limit for the container.", baseLabels, gauge}
	specSwapLimit = metricDef{"container_spec_memory_swap_limit_bytes", "Memory swap limit for the container.", baseLabels, gauge}
)

// metricDefs is every metric, in the order Descriptors lists them.
var metricDefs = []metricDef{
	cpuUsageSeconds, cpuUserSeconds, cpuSystemSeconds, cpuCfsPeriods, cpuCfsThrottledPeriods, cpuCfsThrottledSeconds,
	memUsage, memMaxUsage, memWorkingSet, memRSS, memCache, memMappedFile, memSwap, memKernel, memFailcnt, memFailures,
	memActiveFile, memInactiveFile, oomEvents,
	netRxBytes, netRxPackets, netRxDropped, netRxErrors, netTxBytes, netTxPackets, netTxDropped, netTxErrors,
	fsUsage, fsLimit, fsInodesTotal, fsInodesFree, fsReads, fsReadBytes, fsWrites, fsWriteBytes, blkioUsage,
	processes, threads, threadsMax, fileDescs, sockets,
	lastSeen, startTime,
	specCPUPeriod, specCPUQuota, specCPUShares, specMemLimit, specSwapLimit,
}

// Descriptors describes every metric PodSandboxMetrics reports. kubelet
// reads them once, when it sets up /metrics/cadvisor, and drops any
// metric whose name it was not told about.
func Descriptors() []*runtimeapi.MetricDescriptor {
	out := make([]*runtimeapi.MetricDescriptor, 0, len(metricDefs))
	for _, d := range metricDefs {
		out = append(out, &runtimeapi.MetricDescriptor{Name: d.name, Help: d.help, LabelKeys: append([]string(nil), d.labels...)})
	}
	return out
}
