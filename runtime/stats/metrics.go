package stats

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/berth-cri/berth/container"
	"github.com/berth-cri/berth/internal/cgroup"
	"github.com/berth-cri/berth/sandbox"
)

// reading is one container's cgroup, read in full for the metrics: the
// same numbers on cgroup v1 and v2, in the units cAdvisor uses before
// they become metrics.
type reading struct {
	at time.Time
	// CPU time in nanoseconds; throttled is also time.
	cpu, cpuUser, cpuSystem             uint64
	cfsPeriods, cfsThrottled, throttled uint64
	// Memory in bytes.
	memUsage, memMax, workingSet, rss, cache, mapped, swap, kernel uint64
	activeFile, inactiveFile                                       uint64
	// failcnt counts hits of the limit (v1 failcnt, v2 "max" events).
	failcnt, pgfault, pgmajfault, oomKills uint64
	io                                     []ioEntry
	// threads is the pids controller's count of tasks; threadsMax its
	// limit, 0 for none.
	threads, threadsMax uint64
	// procs are the processes in the cgroup, whose descriptors are
	// counted.
	procs, fds, sockets uint64
}

// ioEntry is one block device's I/O of one kind ("Read", "Write" and on
// v1 also "Sync", "Async", "Discard", "Total").
type ioEntry struct {
	device       string
	major, minor uint64
	op           string
	bytes, ios   uint64
}

// metricSet builds the metrics of one owner (a container, or the pod for
// its network), all with the same timestamp and base label values.
type metricSet struct {
	at     int64
	labels []string
	out    []*runtimeapi.Metric
}

func (s *metricSet) add(d metricDef, v uint64, extra ...string) {
	s.out = append(s.out, &runtimeapi.Metric{
		Name:        d.name,
		Timestamp:   s.at,
		MetricType:  d.typ,
		LabelValues: withLabels(s.labels, extra...),
		Value:       &runtimeapi.UInt64Value{Value: v},
	})
}

// seconds turns nanoseconds into the whole seconds a CRI metric can
// carry (its value is an unsigned integer). Truncating keeps a counter
// from ever going back.
func seconds(ns uint64) uint64 { return ns / uint64(time.Second) }

// fsReading is the filesystem holding the writable layers, and one
// container's use of it.
type fsReading struct {
	device                    string
	used                      uint64
	limit, inodes, inodesFree uint64
}

// containerMetrics converts one reading of a container into metrics.
// labels are the base label values; res the container's current
// resources; fs is nil when the writable layer could not be measured.
func containerMetrics(labels []string, r reading, res *runtimeapi.LinuxContainerResources, fs *fsReading, started, now time.Time) []*runtimeapi.Metric {
	s := &metricSet{at: r.at.UnixNano(), labels: labels}
	s.add(cpuUsageSeconds, seconds(r.cpu))
	s.add(cpuUserSeconds, seconds(r.cpuUser))
	s.add(cpuSystemSeconds, seconds(r.cpuSystem))
	s.add(cpuCfsPeriods, r.cfsPeriods)
	s.add(cpuCfsThrottledPeriods, r.cfsThrottled)
	s.add(cpuCfsThrottledSeconds, seconds(r.throttled))

	s.add(memUsage, r.memUsage)
	s.add(memMaxUsage, r.memMax)
	s.add(memWorkingSet, r.workingSet)
	s.add(memRSS, r.rss)
	s.add(memCache, r.cache)
	s.add(memMappedFile, r.mapped)
	s.add(memSwap, r.swap)
	s.add(memKernel, r.kernel)
	s.add(memFailcnt, r.failcnt)
	// cAdvisor's failure types and scopes; the container scope is its
	// own cgroup, hierarchy its cgroup and those below (the same, for a
	// container's cgroup has none below it).
	for _, scope := range []string{"container", "hierarchy"} {
		s.add(memFailures, r.pgfault, "pgfault", scope)
		s.add(memFailures, r.pgmajfault, "pgmajfault", scope)
	}
	s.add(memActiveFile, r.activeFile)
	s.add(memInactiveFile, r.inactiveFile)
	s.add(oomEvents, r.oomKills)

	for _, e := range r.io {
		s.add(blkioUsage, e.bytes, e.device, strconv.FormatUint(e.major, 10), strconv.FormatUint(e.minor, 10), e.op)
		switch e.op {
		case "Read":
			s.add(fsReads, e.ios, e.device)
			s.add(fsReadBytes, e.bytes, e.device)
		case "Write":
			s.add(fsWrites, e.ios, e.device)
			s.add(fsWriteBytes, e.bytes, e.device)
		}
	}
	if fs != nil {
		s.add(fsUsage, fs.used, fs.device)
		s.add(fsLimit, fs.limit, fs.device)
		s.add(fsInodesTotal, fs.inodes, fs.device)
		s.add(fsInodesFree, fs.inodesFree, fs.device)
	}

	s.add(processes, r.procs)
	s.add(threads, r.threads)
	s.add(threadsMax, r.threadsMax)
	s.add(fileDescs, r.fds)
	s.add(sockets, r.sockets)

	s.add(lastSeen, uint64(now.Unix()))
	if !started.IsZero() {
		s.add(startTime, uint64(started.Unix()))
	}

	// The resources as asked for; zero is "not set" in CRI. cAdvisor
	// shows period and quota only for a container with a quota.
	if q := res.GetCpuQuota(); q > 0 {
		s.add(specCPUPeriod, uint64(res.GetCpuPeriod()))
		s.add(specCPUQuota, uint64(q))
	}
	s.add(specCPUShares, uint64(max(res.GetCpuShares(), 0)))
	s.add(specMemLimit, uint64(max(res.GetMemoryLimitInBytes(), 0)))
	s.add(specSwapLimit, uint64(max(res.GetMemorySwapLimitInBytes(), 0)))
	return s.out
}

// podNetworkMetrics converts the counters of the pod's interfaces.
func podNetworkMetrics(labels []string, at time.Time, ifaces []ifaceStats) []*runtimeapi.Metric {
	s := &metricSet{at: at.UnixNano(), labels: labels}
	for _, i := range ifaces {
		s.add(netRxBytes, i.rxBytes, i.name)
		s.add(netRxPackets, i.rxPackets, i.name)
		s.add(netRxDropped, i.rxDropped, i.name)
		s.add(netRxErrors, i.rxErrors, i.name)
		s.add(netTxBytes, i.txBytes, i.name)
		s.add(netTxPackets, i.txPackets, i.name)
		s.add(netTxDropped, i.txDropped, i.name)
		s.add(netTxErrors, i.txErrs, i.name)
	}
	return s.out
}

// readingEntry caches a container's reading like cgroupEntry caches a
// sample.
type readingEntry struct {
	r    reading
	err  error
	used time.Time
}

// reading returns a reading of the cgroup at path at most cgroupTTL old.
func (c *Collector) reading(path string) (reading, error) {
	c.mu.Lock()
	e := c.readings[path]
	now := time.Now()
	if e != nil && now.Sub(e.r.at) < cgroupTTL {
		e.used = now
		c.mu.Unlock()
		return e.r, e.err
	}
	c.mu.Unlock()

	// Read unlocked: a full read touches a few dozen files, and other
	// callers need not wait for it.
	r, err := readMetrics(c.cfg.CgroupV2, path)
	r.at = now
	c.mu.Lock()
	defer c.mu.Unlock()
	c.readings[path] = &readingEntry{r: r, err: err, used: now}
	return r, err
}

// ListPodSandboxMetrics measures the pods sbs; one that is not ready (or
// stops meanwhile) is left out.
func (c *Collector) ListPodSandboxMetrics(ctx context.Context, sbs []*sandbox.Sandbox) []*runtimeapi.PodSandboxMetrics {
	defer c.forget()
	out := make([]*runtimeapi.PodSandboxMetrics, 0, len(sbs))
	for _, sb := range sbs {
		if m, err := c.PodSandboxMetrics(ctx, sb); err == nil {
			out = append(out, m)
		}
	}
	return out
}

// PodSandboxMetrics measures a ready pod for ListPodSandboxMetrics: its
// network interfaces' counters and its running containers' cgroups,
// writable layers and resources.
func (c *Collector) PodSandboxMetrics(ctx context.Context, sb *sandbox.Sandbox) (*runtimeapi.PodSandboxMetrics, error) {
	st := sb.Status()
	if st.State != runtimeapi.PodSandboxState_SANDBOX_READY {
		return nil, fmt.Errorf("sandbox %s is not ready: no metrics", sb.ID)
	}
	md := sb.Config.GetMetadata()
	pm := &runtimeapi.PodSandboxMetrics{PodSandboxId: sb.ID}
	if !sb.HostNetwork() && sb.NetNSPath != "" {
		if ifaces, err := namespaceIfaces(sb.NetNSPath); err == nil {
			labels := []string{md.GetName(), md.GetNamespace(), "", sb.ID, ""}
			pm.Metrics = podNetworkMetrics(labels, time.Now(), ifaces)
		}
	}
	for _, ctr := range c.cfg.Containers.ListSandbox(sb.ID) {
		if m := c.containerMetrics(ctx, md, ctr); m != nil {
			pm.ContainerMetrics = append(pm.ContainerMetrics, m)
		}
	}
	return pm, nil
}

// containerMetrics measures one container; nil when it is not running
// or its cgroup is gone.
func (c *Collector) containerMetrics(ctx context.Context, pod *runtimeapi.PodSandboxMetadata, ctr *container.Container) *runtimeapi.ContainerMetrics {
	st := ctr.Status()
	if st.State != runtimeapi.ContainerState_CONTAINER_RUNNING {
		return nil
	}
	dir, err := cgroup.Dir(ctr.CgroupsPath)
	if err != nil {
		c.log.Warn("a container's cgroup", "container", ctr.ID, "error", err)
		return nil
	}
	r, err := c.reading(dir)
	if err != nil {
		if !errors.Is(err, errNoCgroup) {
			c.log.Warn("reading a container's cgroup for metrics", "container", ctr.ID, "error", err)
		}
		return nil
	}
	var fs *fsReading
	if layer := c.writableLayer(ctx, ctr.ID); layer != nil {
		if f, ok := c.layerFS(); ok {
			f.used = layer.GetUsedBytes().GetValue()
			fs = &f
		}
	}
	labels := []string{pod.GetName(), pod.GetNamespace(), ctr.Config.GetMetadata().GetName(), ctr.ID, ctr.ImageName}
	return &runtimeapi.ContainerMetrics{
		ContainerId: ctr.ID,
		Metrics:     containerMetrics(labels, r, st.Resources, fs, st.StartedAt, time.Now()),
	}
}

// layerFS is the filesystem of the writable layers (the snapshotter's
// directory), measured at most layerTTL ago.
func (c *Collector) layerFS() (fsReading, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.mount == "" {
		return fsReading{}, false
	}
	if time.Since(c.fsAt) >= layerTTL {
		f, err := statFS(c.mount)
		c.fs, c.fsOK, c.fsAt = f, err == nil, time.Now()
		if err != nil {
			c.log.Debug("measuring the writable layers' filesystem", "path", c.mount, "error", err)
		}
	}
	return c.fs, c.fsOK
}

// deviceOf names the block device major:minor as cAdvisor does
// (/dev/sda), from sysfs; the numbers when sysfs does not know it.
func deviceOf(major, minor uint64) string {
	target, err := os.Readlink(fmt.Sprintf("/sys/dev/block/%d:%d", major, minor))
	if err != nil {
		return fmt.Sprintf("%d:%d", major, minor)
	}
	return "/dev/" + target[strings.LastIndexByte(target, '/')+1:]
}
