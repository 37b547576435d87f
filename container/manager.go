package container

import (
	"context"
	"log/slog"
	"path/filepath"
	"time"

	containerd "github.com/containerd/containerd/v2/client"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/berth-cri/berth/internal/cgroup"
	"github.com/berth-cri/berth/internal/checkpoint"
	"github.com/berth-cri/berth/internal/handlers"
	"github.com/berth-cri/berth/internal/host"
	"github.com/berth-cri/berth/internal/lifecycle"
	"github.com/berth-cri/berth/sandbox"
)

// cleanupTimeout bounds cleanups, which run on a fresh context: the
// request's may already be cancelled.
const cleanupTimeout = 2 * time.Minute

// Image is what a container needs of its image.
type Image struct {
	// ID is the image config digest ("sha256:...").
	ID string
	// RepoDigests are repo@sha256:... names; the first is the image_ref
	// kubelet shows as imageID.
	RepoDigests []string
	RepoTags    []string
	Config      ocispec.ImageConfig
	// ChainID names the snapshot of the image's unpacked layers; empty when
	// the caller does not know it.
	ChainID string
	// Containerd is the image to unpack and snapshot.
	Containerd containerd.Image
}

// Ref is the image_ref CRI reports: a repo digest, else the ID.
func (i Image) Ref() string {
	if len(i.RepoDigests) > 0 {
		return i.RepoDigests[0]
	}
	return i.ID
}

// Images finds local images by ID, reference or unique ID prefix;
// errdefs.ErrNotFound when there is none.
type Images interface {
	Get(ctx context.Context, refOrID string) (Image, error)
}

// Sandboxes is what the container side needs of the sandbox manager.
type Sandboxes interface {
	Store() *sandbox.Store
	RuntimeOpts(sb *sandbox.Sandbox) (containerd.NewContainerOpts, error)
	// Handler is the runtime handler sb runs under.
	Handler(sb *sandbox.Sandbox) (*handlers.Handler, error)
}

// NRI relays containers' lifecycles to Node Resource Interface plugins
// (*nri.API). Errors of Create, Start and Update hooks fail the request;
// the other hooks only tell plugins what happened.
type NRI interface {
	// BlockSync holds off a connecting plugin's synchronisation until
	// unblock, so that a container being created is either listed to the
	// plugin or announced to it, never neither.
	BlockSync() (unblock func())
	// CreateContainer may adjust spec; UndoCreateContainer withdraws it
	// when the creation fails afterwards.
	CreateContainer(ctx context.Context, c *Container, spec *runtimeSpec) error
	UndoCreateContainer(ctx context.Context, c *Container)
	PostCreateContainer(ctx context.Context, c *Container)
	StartContainer(ctx context.Context, c *Container) error
	PostStartContainer(ctx context.Context, c *Container)
	// UpdateContainer returns the resources to apply (plugins may change
	// them), or nil to apply r.
	UpdateContainer(ctx context.Context, c *Container, r *runtimeapi.LinuxContainerResources) (*runtimeapi.LinuxContainerResources, error)
	PostUpdateContainer(ctx context.Context, c *Container)
	// StopContainer and RemoveContainer are told once per container,
	// however many times they are called.
	StopContainer(ctx context.Context, c *Container)
	RemoveContainer(ctx context.Context, c *Container)
}

// Config is everything a Manager works with: containerd, the node's
// facts and directories, the sandboxes the containers live in, the local
// images, and how containers are confined. A nil NRI or Events turns that
// part off; an empty Snapshotter means overlayfs.
type Config struct {
	// Node holds the node's facts (host.Detect): what may be set in a
	// container's spec depends on them.
	Node host.Facts
	// Containerd is what the lifecycle needs of containerd:
	// NewContainerd(Client, Snapshotter) in production.
	Containerd
	// Client is containerd for exec, attach, checkpoint, resource updates
	// and OOM events (containerd.go says why).
	Client    *containerd.Client
	Sandboxes Sandboxes
	Images    Images
	// Snapshotter holds images and containers' writable layers.
	Snapshotter string
	// State holds the containers' IO fifos, which do not survive a reboot.
	State string
	// Root holds what is too large for the state tmpfs: a restored
	// container's unpacked checkpoint (CRIU's images are as large as its
	// memory) until it starts. Empty: State.
	Root string
	// MinOOMScoreAdj is the lowest oom_score_adj berthd may set (0 without
	// CAP_SYS_RESOURCE); lower requests are clamped to it.
	MinOOMScoreAdj int
	// CgroupDriver names the containers' cgroups (as the sandbox manager
	// names their pods').
	CgroupDriver cgroup.Driver
	// Security confines containers: seccomp, AppArmor, SELinux.
	Security Security
	// CRIU says whether checkpoint/restore can work here; nil: the criu
	// binary on PATH, checked on first use.
	CRIU CRIU
	// NRI is nil when NRI is disabled.
	NRI    NRI
	Logger *slog.Logger
	// Events receives the containers' lifecycle events; nil drops them.
	Events *lifecycle.Hub
	// UpstreamSignals and NoSandboxShims turn Berth's shortcuts off
	// (berthd's [shortcuts] pidfd_signals and sandbox_shims = false):
	// containerd's Kill, and the shim binary finding the pod's shim.
	// [shortcuts] task_calls goes to NewContainerd.
	UpstreamSignals, NoSandboxShims bool
}

// Manager creates, starts, stops and removes containers.
type Manager struct {
	cfg   Config
	store *Store
	names *registrar
	log   *slog.Logger
	shims podShims
}

// NewManager returns a Manager with an empty store.
func NewManager(cfg Config) *Manager {
	if cfg.Snapshotter == "" {
		cfg.Snapshotter = defaultSnapshotter
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.CRIU == nil {
		cfg.CRIU = checkpoint.NewChecker()
	}
	return &Manager{cfg: cfg, store: NewStore(), names: newRegistrar(), log: cfg.Logger}
}

// Store is the in-memory index of containers.
func (m *Manager) Store() *Store { return m.store }

// publish announces a change of c, with its pod as it is now (it may be
// gone from the sandbox store by the time a subscriber reads the event).
func (m *Manager) publish(kind lifecycle.Kind, c *Container) {
	if m.cfg.Events.Subscribers() == 0 {
		return
	}
	e := lifecycle.Event{Kind: kind, ID: c.ID, Container: c}
	if sb, err := m.cfg.Sandboxes.Store().Get(c.SandboxID); err == nil {
		e.Sandbox = sb
	}
	m.cfg.Events.Publish(e)
}

func (m *Manager) fifoDir(id string) string {
	return filepath.Join(m.cfg.State, "containers", id, "io")
}

// cleanupContext keeps ctx's values (the containerd namespace) but not its
// cancellation: a cleanup must run to the end even when the request that
// needs it timed out.
func cleanupContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
}

// nriStopped tells NRI plugins that c stopped; the hook tells each
// container's stop once.
func (m *Manager) nriStopped(ctx context.Context, c *Container) {
	if m.cfg.NRI != nil {
		m.cfg.NRI.StopContainer(ctx, c)
	}
}
