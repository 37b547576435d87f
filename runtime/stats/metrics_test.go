package stats

import (
	"slices"
	"strings"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// critestRequired are the metric names critest v1.37's metrics specs
// require a value for (expected, less those it lets runtimes skip or
// leave empty).
var critestRequired = []string{
	"container_cpu_cfs_periods_total", "container_cpu_cfs_throttled_periods_total", "container_cpu_cfs_throttled_seconds_total",
	"container_cpu_system_seconds_total", "container_cpu_usage_seconds_total", "container_cpu_user_seconds_total",
	"container_file_descriptors", "container_fs_inodes_free", "container_fs_inodes_total", "container_fs_limit_bytes",
	"container_fs_usage_bytes", "container_last_seen", "container_memory_cache", "container_memory_failcnt",
	"container_memory_failures_total", "container_memory_kernel_usage", "container_memory_mapped_file",
	"container_memory_max_usage_bytes", "container_memory_rss", "container_memory_swap", "container_memory_usage_bytes",
	"container_memory_working_set_bytes", "container_network_receive_bytes_total", "container_network_receive_errors_total",
	"container_network_receive_packets_dropped_total", "container_network_receive_packets_total",
	"container_network_transmit_bytes_total", "container_network_transmit_errors_total",
	"container_network_transmit_packets_dropped_total", "container_network_transmit_packets_total",
	"container_oom_events_total", "container_processes", "container_sockets", "container_spec_cpu_period",
	"container_spec_cpu_shares", "container_spec_memory_limit_bytes", "container_spec_memory_swap_limit_bytes",
	"container_start_time_seconds", "container_threads", "container_threads_max",
}

func TestDescriptors(t *testing.T) {
	seen := map[string]bool{}
	for _, d := range Descriptors() {
		if seen[d.Name] {
			t.Errorf("%s described twice", d.Name)
		}
		seen[d.Name] = true
		if d.Help == "" || len(d.LabelKeys) < len(baseLabels) || !slices.Equal(d.LabelKeys[:len(baseLabels)], baseLabels) {
			t.Errorf("%s: help %q, labels %v; want help and cAdvisor's labels first", d.Name, d.Help, d.LabelKeys)
		}
	}
	for _, name := range critestRequired {
		if !seen[name] {
			t.Errorf("%s is not described", name)
		}
	}
}

func TestContainerMetrics(t *testing.T) {
	at := time.Unix(1700000000, 5)
	started := time.Unix(1699999000, 0)
	r := reading{
		at:  at,
		cpu: 2_900_000_000, cpuUser: 2_100_000_000, cpuSystem: 800_000_000,
		cfsPeriods: 40, cfsThrottled: 7, throttled: 1_500_000_000,
		memUsage: 100 << 20, memMax: 120 << 20, workingSet: 90 << 20, rss: 60 << 20, cache: 40 << 20,
		pgfault: 1000, pgmajfault: 3, oomKills: 1,
		io: []ioEntry{
			{device: "/dev/sda", major: 8, minor: 0, op: "Read", bytes: 4096, ios: 1},
			{device: "/dev/sda", major: 8, minor: 0, op: "Total", bytes: 4096, ios: 1},
		},
		threads: 5, threadsMax: 0, procs: 2, fds: 9, sockets: 1,
	}
	res := &runtimeapi.LinuxContainerResources{CpuPeriod: 100000, CpuQuota: 20000, CpuShares: 1024, MemoryLimitInBytes: 64 << 20}
	fs := &fsReading{device: "/dev/vda1", used: 8192, limit: 1 << 30, inodes: 1000, inodesFree: 400}
	labels := []string{"web", "default", "nginx", "c0ffee", "nginx:1"}
	ms := containerMetrics(labels, r, res, fs, started, at.Add(time.Second))

	type key struct {
		name   string
		labels string
	}
	got := map[key]*runtimeapi.Metric{}
	for _, m := range ms {
		k := key{m.Name, join(m.LabelValues)}
		if got[k] != nil {
			t.Fatalf("%s %v reported twice: Prometheus rejects the scrape", m.Name, m.LabelValues)
		}
		got[k] = m
		if m.Timestamp != at.UnixNano() {
			t.Errorf("%s timestamp %d, want the reading's %d", m.Name, m.Timestamp, at.UnixNano())
		}
	}
	var defs = map[string]metricDef{}
	for _, d := range metricDefs {
		defs[d.name] = d
	}
	for _, m := range ms {
		d, ok := defs[m.Name]
		if !ok || len(m.LabelValues) != len(d.labels) || m.MetricType != d.typ {
			t.Errorf("%s: %d labels of type %v, want as described: %+v", m.Name, len(m.LabelValues), m.MetricType, d)
		}
	}

	for _, c := range []struct {
		name  string
		extra []string
		want  uint64
	}{
		{"container_cpu_usage_seconds_total", nil, 2},
		{"container_cpu_user_seconds_total", nil, 2},
		{"container_cpu_system_seconds_total", nil, 0},
		{"container_cpu_cfs_throttled_periods_total", nil, 7},
		{"container_cpu_cfs_throttled_seconds_total", nil, 1},
		{"container_memory_working_set_bytes", nil, 90 << 20},
		{"container_memory_max_usage_bytes", nil, 120 << 20},
		{"container_memory_failures_total", []string{"pgmajfault", "container"}, 3},
		{"container_memory_failures_total", []string{"pgfault", "hierarchy"}, 1000},
		{"container_oom_events_total", nil, 1},
		{"container_blkio_device_usage_total", []string{"/dev/sda", "8", "0", "Total"}, 4096},
		{"container_fs_reads_bytes_total", []string{"/dev/sda"}, 4096},
		{"container_fs_reads_total", []string{"/dev/sda"}, 1},
		{"container_fs_usage_bytes", []string{"/dev/vda1"}, 8192},
		{"container_fs_inodes_free", []string{"/dev/vda1"}, 400},
		{"container_processes", nil, 2},
		{"container_threads", nil, 5},
		{"container_file_descriptors", nil, 9},
		{"container_sockets", nil, 1},
		{"container_start_time_seconds", nil, 1699999000},
		{"container_last_seen", nil, 1700000001},
		{"container_spec_cpu_period", nil, 100000},
		{"container_spec_cpu_quota", nil, 20000},
		{"container_spec_cpu_shares", nil, 1024},
		{"container_spec_memory_limit_bytes", nil, 64 << 20},
		{"container_spec_memory_swap_limit_bytes", nil, 0},
	} {
		m := got[key{c.name, join(append(append([]string(nil), labels...), c.extra...))}]
		if m == nil {
			t.Errorf("%s%v missing", c.name, c.extra)
			continue
		}
		if m.Value.GetValue() != c.want {
			t.Errorf("%s%v = %d, want %d", c.name, c.extra, m.Value.GetValue(), c.want)
		}
	}
	if got[key{"container_fs_writes_total", join(append(append([]string(nil), labels...), "/dev/sda"))}] != nil {
		t.Error("a write count appeared from a device that only read")
	}

	// Without a quota cAdvisor shows neither period nor quota; without a
	// measured layer there are no filesystem metrics.
	for _, m := range containerMetrics(labels, r, &runtimeapi.LinuxContainerResources{CpuPeriod: 100000}, nil, started, at) {
		switch m.Name {
		case "container_spec_cpu_period", "container_spec_cpu_quota", "container_fs_usage_bytes":
			t.Errorf("%s reported for a container without quota or measured layer", m.Name)
		}
	}
}

func TestPodNetworkMetrics(t *testing.T) {
	labels := []string{"web", "default", "", "sandbox1", ""}
	ms := podNetworkMetrics(labels, time.Unix(1, 0), []ifaceStats{
		{name: "eth0", rxBytes: 100, rxPackets: 2, rxDropped: 1, txBytes: 50, txPackets: 1, txErrs: 4},
		{name: "net1", rxBytes: 7},
	})
	if len(ms) != 16 {
		t.Fatalf("%d metrics for two interfaces, want 16", len(ms))
	}
	want := map[string]uint64{
		"container_network_receive_bytes_total eth0":            100,
		"container_network_receive_packets_dropped_total eth0":  1,
		"container_network_transmit_errors_total eth0":          4,
		"container_network_receive_bytes_total net1":            7,
		"container_network_transmit_packets_dropped_total net1": 0,
	}
	for _, m := range ms {
		if len(m.LabelValues) != len(networkLabels) || m.MetricType != runtimeapi.MetricType_COUNTER {
			t.Errorf("%s: labels %v type %v", m.Name, m.LabelValues, m.MetricType)
		}
		if w, ok := want[m.Name+" "+m.LabelValues[5]]; ok && m.Value.GetValue() != w {
			t.Errorf("%s %s = %d, want %d", m.Name, m.LabelValues[5], m.Value.GetValue(), w)
		}
	}
}

func join(s []string) string { return strings.Join(s, "\x00") }
