package sandbox

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"path/filepath"
	"sync"
	"time"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/berth-cri/berth/cni"
	"github.com/berth-cri/berth/conntrack"
	"github.com/berth-cri/berth/internal/cgroup"
	"github.com/berth-cri/berth/internal/handlers"
	"github.com/berth-cri/berth/internal/lifecycle"
	"github.com/berth-cri/berth/portmap"
)

// runTimeout bounds a RunPodSandbox's work, which goes on after the
// request's own deadline so that kubelet's retry can collect it.
const runTimeout = 4 * time.Minute

// cleanupTimeout bounds cleanups, which run on a fresh context: the
// request's may already be cancelled.
const cleanupTimeout = 2 * time.Minute

// Network attaches and detaches pod networks (*cni.Manager).
type Network interface {
	Setup(ctx context.Context, sn cni.SandboxNetwork) (*cni.Result, error)
	Teardown(ctx context.Context, id string) error
	GC(ctx context.Context, live []string) error
}

// HostPorts reserves hostPorts on the node so two pods, or a pod and a
// host process, never share one.
// (*portmap.Table).
type HostPorts interface {
	Reserve(sandboxID string, ports []portmap.PortMapping) error
	Restore(sandboxID string, ports []portmap.PortMapping) error
	Release(sandboxID string)
}

// Conntrack forgets connection tracking entries of a torn-down pod, so
// UDP flows to its IPs or hostPorts do not stick to a dead endpoint. Purge
// returns at once and purges in the background (*conntrack.Purger).
type Conntrack interface {
	Purge(ips []netip.Addr, udpHostPorts []conntrack.HostPort)
}

// Containers stops and removes the containers of a sandbox; the container
// side of Berth implements it.
type Containers interface {
	StopAll(ctx context.Context, sandboxID string) error
	RemoveAll(ctx context.Context, sandboxID string) error
}

// NRI relays sandboxes' lifecycles to Node Resource Interface plugins
// (*nri.API). An error of the RunPodSandbox hook fails the request; Stop
// and Remove only tell plugins, once per sandbox.
type NRI interface {
	// BlockSync holds off a connecting plugin's synchronisation until
	// unblock, so that a sandbox being created is either listed to the
	// plugin or announced to it, never neither.
	BlockSync() (unblock func())
	RunPodSandbox(ctx context.Context, sb *Sandbox) error
	StopPodSandbox(ctx context.Context, sb *Sandbox)
	RemovePodSandbox(ctx context.Context, sb *Sandbox)
}

// Config is everything a Manager works with: containerd (through
// Containerd), the node (through Node), its directories and cgroup
// driver, the runtime handlers, and the parts it reaches through
// interfaces (Network, HostPorts, Conntrack, NRI). A nil Node is this
// node; a nil NRI, Registerer or Events turns that part off.
type Config struct {
	// Containerd holds sandboxes' records and runs their pauses:
	// NewContainerd of berthd's client.
	Containerd Containerd
	// Node makes pods' namespaces and mounts; nil is this node.
	Node Node
	// Root holds per-sandbox files; State holds network namespaces and shm
	// mounts, which do not survive a reboot.
	Root, State string
	PauseImage  string
	// Handlers are the runtime handlers pods may name.
	Handlers *handlers.Set
	// CgroupDriver names the pods' cgroups; the handlers carry runc's side of it.
	CgroupDriver cgroup.Driver
	// ResolvConf is the file pods without a DNS config get.
	ResolvConf string
	// MinOOMScoreAdj is the lowest oom_score_adj this node lets berthd set
	// (0 without CAP_SYS_RESOURCE); lower requests are clamped to it.
	MinOOMScoreAdj int
	Network        Network
	HostPorts      HostPorts
	Conntrack      Conntrack
	// NRI is nil when NRI is disabled.
	NRI    NRI
	Logger *slog.Logger
	// Registerer receives the stage timing metrics; nil skips them.
	Registerer prometheus.Registerer
	// Events receives the sandboxes' lifecycle events; nil drops them.
	Events *lifecycle.Hub
	// DropInfra runs pods whose containers do not share a PID namespace
	// without a pause process (doc.go); when false every pod has one.
	DropInfra bool
	// UpstreamSignals turns Berth's pidfd signals off for pauses
	// (berthd's [shortcuts] pidfd_signals = false): containerd's Kill.
	// [shortcuts] task_calls goes to NewContainerd.
	UpstreamSignals bool
}

// Manager runs, stops and removes pod sandboxes.
type Manager struct {
	cfg        Config
	node       Node
	metrics    *metrics
	store      *Store
	names      *registrar
	containers Containers

	pauseMu sync.Mutex
	pause   *pauseImage

	// cleanups counts the work left running after a call returned: pause
	// tasks deleted after their exit, mounts of stopped sandboxes.
	cleanups inflight
}

// WaitCleanups waits, until ctx ends, for the pause tasks being deleted
// after their exit and the mounts of stopped sandboxes: berthd stops its
// containerd after it, and a deletion cut off would leave the pod's shim
// running.
func (m *Manager) WaitCleanups(ctx context.Context) error {
	return m.cleanups.wait(ctx)
}

// inflight counts work under way and says when there is none.
type inflight struct {
	mu   sync.Mutex
	n    int
	idle chan struct{} // closed when n drops to zero
}

func (f *inflight) add() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.n == 0 {
		f.idle = make(chan struct{})
	}
	f.n++
}

func (f *inflight) done() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.n--; f.n == 0 {
		close(f.idle)
	}
}

func (f *inflight) wait(ctx context.Context) error {
	f.mu.Lock()
	if f.n == 0 {
		f.mu.Unlock()
		return nil
	}
	idle := f.idle
	f.mu.Unlock()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// NewManager returns a Manager with an empty store.
func NewManager(cfg Config) *Manager {
	node := cfg.Node
	if node == nil {
		node = hostNode{}
	}
	return &Manager{cfg: cfg, node: node, metrics: newMetrics(cfg.Registerer), store: NewStore(), names: newRegistrar()}
}

// publish announces a change of sb's own (not one of its containers').
func (m *Manager) publish(kind lifecycle.Kind, sb *Sandbox) {
	m.cfg.Events.Publish(lifecycle.Event{Kind: kind, ID: sb.ID, Sandbox: sb})
}

// SetContainers connects the container side, which is built after the
// sandbox manager because it needs it too.
func (m *Manager) SetContainers(c Containers) { m.containers = c }

// Store is the in-memory index of sandboxes.
func (m *Manager) Store() *Store { return m.store }

// RuntimeOpts is the containerd runtime for a sandbox's containers: its
// handler's. A handler no longer configured (berthd restarted with another
// config) is InvalidArgument: the pod's containers cannot be created.
func (m *Manager) RuntimeOpts(sb *Sandbox) (containerd.NewContainerOpts, error) {
	h, err := m.Handler(sb)
	if err != nil {
		return nil, err
	}
	return h.ContainerOpts(), nil
}

// Handler is the runtime handler sb runs under; InvalidArgument when it is
// no longer configured.
func (m *Manager) Handler(sb *Sandbox) (*handlers.Handler, error) {
	h, err := m.cfg.Handlers.Lookup(sb.RuntimeHandler)
	if err != nil {
		return nil, fmt.Errorf("sandbox %s: %w", sb.ID, err)
	}
	return h, nil
}

func (m *Manager) sandboxDir(id string) string { return filepath.Join(m.cfg.Root, "sandboxes", id) }

func (m *Manager) netnsDir() string { return filepath.Join(m.cfg.State, "netns") }

// cleanupContext keeps ctx's values (the containerd namespace, the request
// logger) but not its cancellation: a cleanup must run to the end even when
// the request that needs it has timed out.
func cleanupContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
}
