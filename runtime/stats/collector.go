package stats

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/berth-cri/berth/container"
	"github.com/berth-cri/berth/internal/cgroup"
	"github.com/berth-cri/berth/sandbox"
)

const (
	// cgroupTTL is how long a cgroup sample is served: kubelet's callers
	// ask within the same second many times over.
	cgroupTTL = time.Second
	// layerTTL is how long a writable layer's size is served: measuring
	// walks its files.
	layerTTL = 10 * time.Second
	// forgetAfter drops the samples of a cgroup nobody asked about for
	// this long (its container is gone).
	forgetAfter = 2 * time.Minute
)

// Config is what a Collector measures from: the stores naming the
// containers and pods, containerd's snapshotter for writable layers, and
// the node's cgroup facts, which say where each cgroup's files are.
type Config struct {
	Client *containerd.Client
	// Namespace is the containerd namespace of Berth's containers.
	Namespace string
	// Snapshotter holds the containers' writable layers.
	Snapshotter string
	Containers  *container.Store
	Sandboxes   *sandbox.Store
	// CgroupDriver says where kubelet's pod cgroups (cgroup parents) are.
	CgroupDriver cgroup.Driver
	// CgroupV2 says which files a cgroup's measures are in (host.Facts).
	CgroupV2 bool
	// Mountpoint returns the snapshotter's directory on the host, which
	// kubelet resolves to a device (fs_id); nil or an error leaves fs_id
	// out, which kubelet tolerates.
	Mountpoint func(context.Context) (string, error)
	Logger     *slog.Logger
}

// Collector measures containers and pods, caching each measurement.
type Collector struct {
	cfg Config
	log *slog.Logger

	mu       sync.Mutex
	cgroups  map[string]*cgroupEntry
	readings map[string]*readingEntry
	layers   map[string]*layerEntry
	mount    string
	// fs is the writable layers' filesystem as of fsAt (fsOK: measured).
	fs   fsReading
	fsOK bool
	fsAt time.Time
}

type cgroupEntry struct {
	prev, cur sample
	err       error
	used      time.Time
}

type layerEntry struct {
	at            time.Time
	bytes, inodes uint64
	ok            bool
}

// NewCollector returns a Collector with nothing cached.
func NewCollector(cfg Config) *Collector {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Collector{
		cfg: cfg, log: cfg.Logger,
		cgroups: map[string]*cgroupEntry{}, readings: map[string]*readingEntry{}, layers: map[string]*layerEntry{},
	}
}

// cgroup returns the latest sample of the cgroup at path (below each
// hierarchy's root, internal/cgroup.Dir), taken at most cgroupTTL ago, and
// the CPU rate since the sample before it (ok false when there is none
// yet).
func (c *Collector) cgroup(path string) (cur sample, cores uint64, coresOK bool, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	e := c.cgroups[path]
	if e == nil {
		e = &cgroupEntry{}
		c.cgroups[path] = e
	}
	e.used = now
	if e.cur.at.IsZero() || now.Sub(e.cur.at) >= cgroupTTL {
		s, err := readCgroup(c.cfg.CgroupV2, path)
		e.err = err
		if err == nil {
			e.prev, e.cur = e.cur, s
		}
	}
	if e.err != nil {
		return sample{}, 0, false, e.err
	}
	if e.prev.at.IsZero() {
		return e.cur, 0, false, nil
	}
	return e.cur, nanoCores(e.prev, e.cur), true, nil
}

// nanoCores is the CPU rate between two samples in billionths of a core.
func nanoCores(prev, cur sample) uint64 {
	dt := cur.at.Sub(prev.at)
	if dt <= 0 || cur.cpu < prev.cpu {
		return 0
	}
	return uint64(float64(cur.cpu-prev.cpu) / dt.Seconds())
}

// forget drops what was not asked about for a while.
func (c *Collector) forget() {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	for k, e := range c.cgroups {
		if now.Sub(e.used) > forgetAfter {
			delete(c.cgroups, k)
		}
	}
	for k, e := range c.readings {
		if now.Sub(e.used) > forgetAfter {
			delete(c.readings, k)
		}
	}
	for k, e := range c.layers {
		if now.Sub(e.at) > forgetAfter {
			delete(c.layers, k)
		}
	}
}

// writableLayer measures a container's writable layer (its active
// snapshot, keyed by the container ID).
func (c *Collector) writableLayer(ctx context.Context, id string) *runtimeapi.FilesystemUsage {
	c.mu.Lock()
	e := c.layers[id]
	mount := c.mount
	c.mu.Unlock()
	if e == nil || time.Since(e.at) >= layerTTL {
		e = &layerEntry{at: time.Now()}
		u, err := c.cfg.Client.SnapshotService(c.cfg.Snapshotter).Usage(namespaces.WithNamespace(ctx, c.cfg.Namespace), id)
		if err == nil {
			e.bytes, e.inodes, e.ok = uint64(u.Size), uint64(u.Inodes), true
		} else {
			c.log.Debug("measuring a writable layer", "container", id, "error", err)
		}
		if mount == "" && c.cfg.Mountpoint != nil {
			if m, err := c.cfg.Mountpoint(ctx); err == nil {
				mount = m
			}
		}
		c.mu.Lock()
		c.layers[id] = e
		c.mount = mount
		c.mu.Unlock()
	}
	if !e.ok {
		return nil
	}
	fs := &runtimeapi.FilesystemUsage{
		Timestamp:  e.at.UnixNano(),
		UsedBytes:  &runtimeapi.UInt64Value{Value: e.bytes},
		InodesUsed: &runtimeapi.UInt64Value{Value: e.inodes},
	}
	if mount != "" {
		fs.FsId = &runtimeapi.FilesystemIdentifier{Mountpoint: mount}
	}
	return fs
}

// ContainerStats measures one container. A container without a cgroup
// (created, exited) has attributes and its writable layer only.
func (c *Collector) ContainerStats(ctx context.Context, ctr *container.Container) *runtimeapi.ContainerStats {
	st := &runtimeapi.ContainerStats{
		Attributes: &runtimeapi.ContainerAttributes{
			Id:          ctr.ID,
			Metadata:    ctr.Config.GetMetadata(),
			Labels:      ctr.Config.GetLabels(),
			Annotations: ctr.Config.GetAnnotations(),
		},
		WritableLayer: c.writableLayer(ctx, ctr.ID),
	}
	if ctr.Status().State != runtimeapi.ContainerState_CONTAINER_RUNNING {
		return st
	}
	dir, err := cgroup.Dir(ctr.CgroupsPath)
	if err != nil {
		c.log.Warn("a container's cgroup", "container", ctr.ID, "error", err)
		return st
	}
	s, cores, coresOK, err := c.cgroup(dir)
	if err != nil {
		if !errors.Is(err, errNoCgroup) {
			c.log.Warn("reading a container's cgroup", "container", ctr.ID, "error", err)
		}
		return st
	}
	st.Cpu = cpuUsage(s, cores, coresOK)
	st.Memory = memoryUsage(s)
	return st
}

func cpuUsage(s sample, cores uint64, coresOK bool) *runtimeapi.CpuUsage {
	u := &runtimeapi.CpuUsage{Timestamp: s.at.UnixNano(), UsageCoreNanoSeconds: &runtimeapi.UInt64Value{Value: s.cpu}}
	if coresOK {
		u.UsageNanoCores = &runtimeapi.UInt64Value{Value: cores}
	}
	return u
}

func memoryUsage(s sample) *runtimeapi.MemoryUsage {
	m := &runtimeapi.MemoryUsage{
		Timestamp:       s.at.UnixNano(),
		WorkingSetBytes: &runtimeapi.UInt64Value{Value: s.workingSet},
		UsageBytes:      &runtimeapi.UInt64Value{Value: s.memUsage},
		RssBytes:        &runtimeapi.UInt64Value{Value: s.rss},
		PageFaults:      &runtimeapi.UInt64Value{Value: s.pageFaults},
		MajorPageFaults: &runtimeapi.UInt64Value{Value: s.majorPageFaults},
	}
	if s.memLimit > 0 {
		avail := uint64(0)
		if s.memLimit > s.workingSet {
			avail = s.memLimit - s.workingSet
		}
		m.AvailableBytes = &runtimeapi.UInt64Value{Value: avail}
	}
	return m
}

// ListContainerStats measures the containers ctrs.
func (c *Collector) ListContainerStats(ctx context.Context, ctrs []*container.Container) []*runtimeapi.ContainerStats {
	defer c.forget()
	out := make([]*runtimeapi.ContainerStats, 0, len(ctrs))
	for _, ctr := range ctrs {
		out = append(out, c.ContainerStats(ctx, ctr))
	}
	return out
}

// PodSandboxStats measures a pod: its containers; CPU, memory and
// processes of the pod cgroup (kubelet's cgroup parent) or, for a pod
// without one, of its containers and pause added up; and the counters of
// the pod network namespace's interfaces.
func (c *Collector) PodSandboxStats(ctx context.Context, sb *sandbox.Sandbox) (*runtimeapi.PodSandboxStats, error) {
	st := sb.Status()
	if st.State != runtimeapi.PodSandboxState_SANDBOX_READY {
		return nil, fmt.Errorf("sandbox %s is not ready: no stats", sb.ID)
	}
	linux := &runtimeapi.LinuxPodSandboxStats{}
	ctrs := c.cfg.Containers.ListSandbox(sb.ID)
	for _, ctr := range ctrs {
		linux.Containers = append(linux.Containers, c.ContainerStats(ctx, ctr))
	}

	var total sample
	var cores uint64
	coresOK := true
	add := func(dir string, err error) bool {
		if err != nil {
			return false
		}
		s, n, ok, err := c.cgroup(dir)
		if err != nil {
			return false
		}
		total.at = s.at
		total.cpu += s.cpu
		total.memUsage += s.memUsage
		total.workingSet += s.workingSet
		total.rss += s.rss
		total.pageFaults += s.pageFaults
		total.majorPageFaults += s.majorPageFaults
		total.pids += s.pids
		total.memLimit = s.memLimit
		cores += n
		coresOK = coresOK && ok
		return true
	}
	measured := false
	if parent := sb.Config.GetLinux().GetCgroupParent(); parent != "" {
		measured = add(c.cfg.CgroupDriver.ParentDir(parent))
	} else {
		if !sb.Infraless {
			measured = add(cgroup.Dir(sb.PauseCgroupsPath()))
		}
		for _, ctr := range ctrs {
			if ctr.Status().State == runtimeapi.ContainerState_CONTAINER_RUNNING && add(cgroup.Dir(ctr.CgroupsPath)) {
				measured = measured || sb.Infraless
			}
		}
		total.memLimit = 0 // a sum of limits is no pod limit
	}
	if measured {
		linux.Cpu = cpuUsage(total, cores, coresOK)
		linux.Memory = memoryUsage(total)
		linux.Process = &runtimeapi.ProcessUsage{Timestamp: total.at.UnixNano(), ProcessCount: &runtimeapi.UInt64Value{Value: total.pids}}
	}
	linux.Network = podNetwork(sb)
	return &runtimeapi.PodSandboxStats{
		Attributes: &runtimeapi.PodSandboxAttributes{
			Id:          sb.ID,
			Metadata:    sb.Config.GetMetadata(),
			Labels:      sb.Config.GetLabels(),
			Annotations: sb.Config.GetAnnotations(),
		},
		Linux: linux,
	}, nil
}

// podNetwork reads the counters of the interfaces in the pod's network
// namespace. Host-network pods have none of their own.
func podNetwork(sb *sandbox.Sandbox) *runtimeapi.NetworkUsage {
	if sb.HostNetwork() || sb.NetNSPath == "" {
		return nil
	}
	ifaces, err := namespaceIfaces(sb.NetNSPath)
	if err != nil {
		return nil
	}
	return networkUsage(ifaces, time.Now().UnixNano())
}

// networkUsage is the CRI's view of a pod's interfaces, eth0 its default.
// A namespace with no interface but lo (a pod whose network is being torn
// down) has no usage at all: kubelet dereferences the default interface of
// any usage it gets (cri_stats_provider's network stats), so one without it
// would crash kubelet's summary, and with it the eviction manager.
func networkUsage(ifaces []ifaceStats, now int64) *runtimeapi.NetworkUsage {
	if len(ifaces) == 0 {
		return nil
	}
	n := &runtimeapi.NetworkUsage{Timestamp: now}
	for _, i := range ifaces {
		u := &runtimeapi.NetworkInterfaceUsage{
			Name:     i.name,
			RxBytes:  &runtimeapi.UInt64Value{Value: i.rxBytes},
			RxErrors: &runtimeapi.UInt64Value{Value: i.rxErrors},
			TxBytes:  &runtimeapi.UInt64Value{Value: i.txBytes},
			TxErrors: &runtimeapi.UInt64Value{Value: i.txErrs},
		}
		n.Interfaces = append(n.Interfaces, u)
		if i.name == "eth0" || n.DefaultInterface == nil {
			n.DefaultInterface = u
		}
	}
	return n
}
