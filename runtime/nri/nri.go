package nri

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/containerd/errdefs"
	"github.com/containerd/nri/pkg/adaptation"
	"github.com/containerd/nri/pkg/api"
	nrilog "github.com/containerd/nri/pkg/log"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/berth-cri/berth/container"
	"github.com/berth-cri/berth/internal/version"
	"github.com/berth-cri/berth/sandbox"
)

// Config is what an API serves NRI with: the socket plugins connect to,
// the plugins it starts itself and their configuration, how long a plugin
// may take to answer, and containerd, where containers' specs are.
type Config struct {
	// SocketPath is where plugins connect.
	SocketPath string
	// PluginPath holds plugins berthd starts itself; PluginConfigPath
	// their configuration.
	PluginPath, PluginConfigPath string
	// RegistrationTimeout and RequestTimeout bound a plugin's answers.
	RegistrationTimeout, RequestTimeout time.Duration
	// Client and Namespace reach containers' specs in containerd.
	Client    *containerd.Client
	Namespace string
	Logger    *slog.Logger
}

// Containers is what NRI needs of the container side (*container.Manager):
// its store, and ways to apply what plugins ask for without telling the
// plugins about it again.
type Containers interface {
	Store() *container.Store
	Stop(ctx context.Context, id string, timeout time.Duration) error
	UpdateResourcesForNRI(ctx context.Context, id string, r *runtimeapi.LinuxContainerResources) error
}

// lifecycle is how far plugins were told a pod or container went.
type lifecycle int

const (
	created lifecycle = iota + 1
	running
	stopped
)

// API relays Berth's pods and containers to NRI plugins. It implements
// sandbox.NRI and container.NRI; a nil *API is NRI disabled.
type API struct {
	cfg        Config
	log        *slog.Logger
	nri        *adaptation.Adaptation
	sandboxes  *sandbox.Store
	containers Containers

	// mu serialises the events, so that deciding whether to tell one and
	// telling it are one step. It is never held while the NRI library holds
	// its own lock (synchronising the plugins berthd starts), so toldMu
	// guards told apart.
	mu     sync.Mutex
	toldMu sync.Mutex
	// told is how far plugins were told each pod and container went, so
	// that a second Stop or an exit after Stop is not told again. Gone
	// from the map: never told, or removed.
	told map[string]lifecycle
	// synced says a plugin was synchronised since start. Until then there
	// is nobody to tell: the hooks return at once, without reading each
	// container's spec from containerd or taking mu, and the first
	// synchronisation lists everything as it is then. Checked with
	// BlockSync held (by the hook or its caller), so a hook either runs
	// before that first synchronisation or sees it done.
	synced atomic.Bool
	// syncs counts the library's calls of synchronize. Its first is always
	// its start-up synchronisation of the plugins it launched itself from
	// PluginPath (Adaptation.Start runs it before it listens), which on a
	// node without any synchronises none and leaves synced false.
	syncs atomic.Int64
	// installed says PluginPath had something in it when Start began.
	installed bool
}

// New creates the NRI adaptation; it serves nothing until Start.
func New(cfg Config) (*API, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	a := &API{cfg: cfg, log: cfg.Logger, told: map[string]lifecycle{}}
	nrilog.Set(slogAdapter{cfg.Logger})
	// Process-wide in the NRI library; there is only one adaptation.
	adaptation.SetPluginRegistrationTimeout(cfg.RegistrationTimeout)
	adaptation.SetPluginRequestTimeout(cfg.RequestTimeout)
	n, err := adaptation.New("berth", version.Version, a.synchronize, a.updateFromPlugin,
		adaptation.WithSocketPath(cfg.SocketPath),
		adaptation.WithPluginPath(cfg.PluginPath),
		adaptation.WithPluginConfigPath(cfg.PluginConfigPath),
	)
	if err != nil {
		return nil, fmt.Errorf("NRI: %w", err)
	}
	a.nri = n
	return a, nil
}

// Attach gives the API the stores it lists to plugins; the managers are
// built after the API because they call it.
func (a *API) Attach(sandboxes *sandbox.Store, containers Containers) {
	if a == nil {
		return
	}
	a.sandboxes, a.containers = sandboxes, containers
}

// Start starts configured plugins and serves the socket. Call it once the
// stores hold the recovered pods and containers: plugins are synchronised
// with them.
func (a *API) Start() error {
	if a == nil {
		return nil
	}
	a.installed = a.pluginsInstalled()
	if err := a.nri.Start(); err != nil {
		return fmt.Errorf("start NRI: %w", err)
	}
	// A plugin can rewrite any container: root's alone, whatever the umask.
	if err := os.Chmod(a.cfg.SocketPath, 0o600); err != nil {
		a.nri.Stop()
		return fmt.Errorf("NRI socket: %w", err)
	}
	a.log.Info("serving NRI", "socket", a.cfg.SocketPath)
	return nil
}

// Stop disconnects plugins and stops serving the socket.
func (a *API) Stop() {
	if a != nil {
		a.nri.Stop()
	}
}

// SandboxHooks is the API as the sandbox manager takes it: nil when NRI is
// disabled.
func (a *API) SandboxHooks() sandbox.NRI {
	if a == nil {
		return nil
	}
	return a
}

// ContainerHooks is the API as the container manager takes it: nil when
// NRI is disabled.
func (a *API) ContainerHooks() container.NRI {
	if a == nil {
		return nil
	}
	return a
}

// BlockSync holds off the synchronisation of a plugin that connects until
// unblock. Runs and Creates hold it from their hook until the new object is
// in its store; the other events take it themselves. A connecting plugin
// therefore either finds an object listed or is told of it afterwards.
func (a *API) BlockSync() (unblock func()) {
	return a.nri.BlockPluginSync().Unblock
}

// synchronize lists the pods and containers to a plugin that connects. The
// NRI library calls it with synchronisation blocked, so no event is in
// flight meanwhile.
func (a *API) synchronize(ctx context.Context, sync adaptation.SyncCB) error {
	if a.syncs.Add(1) == 1 && !a.installed && !a.pluginsInstalled() {
		// The start-up synchronisation, of no plugin: the library launched
		// none, so nobody is told anything until one connects.
		_, err := sync(ctx, nil, nil)
		return err
	}
	a.synced.Store(true)
	ctx = a.nsContext(ctx)
	var pods []*api.PodSandbox
	var ctrs []*api.Container
	for _, sb := range a.sandboxes.List() {
		pods = append(pods, podSandbox(sb))
		if a.state(sb.ID) == 0 {
			a.setState(sb.ID, running)
		}
	}
	for _, c := range a.containers.Store().List() {
		st := c.Status()
		switch st.State {
		case runtimeapi.ContainerState_CONTAINER_EXITED, runtimeapi.ContainerState_CONTAINER_UNKNOWN:
			continue
		}
		ctrs = append(ctrs, a.container(ctx, c, nil))
		if st.State == runtimeapi.ContainerState_CONTAINER_RUNNING {
			a.setState(c.ID, running)
		} else if a.state(c.ID) == 0 {
			a.setState(c.ID, created)
		}
	}
	a.log.Info("synchronising an NRI plugin", "pods", len(pods), "containers", len(ctrs))
	updates, err := sync(ctx, pods, ctrs)
	if err != nil {
		return err
	}
	_, _ = a.apply(ctx, updates, nil) // apply logs each failure; the plugin is synchronised all the same
	return nil
}

// pluginsInstalled says whether PluginPath holds anything the library
// could launch at start. It errs towards yes: only a missing or empty
// directory says no (the library launches nothing from either), since a
// plugin launched and never told of events would go wrong.
func (a *API) pluginsInstalled() bool {
	entries, err := os.ReadDir(a.cfg.PluginPath)
	if errors.Is(err, fs.ErrNotExist) || a.cfg.PluginPath == "" {
		return false
	}
	return err != nil || len(entries) > 0
}

// updateFromPlugin applies the updates a plugin asks for on its own.
func (a *API) updateFromPlugin(ctx context.Context, updates []*api.ContainerUpdate) ([]*api.ContainerUpdate, error) {
	return a.apply(a.nsContext(ctx), updates, nil)
}

// apply carries out plugins' updates and evictions. Evictions run apart:
// the plugins are told of each stop, which must wait for the event in
// progress to end.
func (a *API) apply(ctx context.Context, updates []*api.ContainerUpdate, evictions []*api.ContainerEviction) ([]*api.ContainerUpdate, error) {
	var failed []*api.ContainerUpdate
	var errs []error
	for _, u := range updates {
		err := a.containers.UpdateResourcesForNRI(ctx, u.GetContainerId(), toCRIResources(u.GetLinux().GetResources()))
		if err == nil || errdefs.IsNotFound(err) {
			continue
		}
		a.log.Warn("an update asked by an NRI plugin failed", "container", u.GetContainerId(), "error", err)
		if !u.GetIgnoreFailure() {
			failed = append(failed, u)
			errs = append(errs, fmt.Errorf("container %s: %w", u.GetContainerId(), err))
		}
	}
	for _, e := range evictions {
		go func() {
			a.log.Info("NRI plugin evicts a container", "container", e.GetContainerId(), "reason", e.GetReason())
			if err := a.containers.Stop(context.WithoutCancel(ctx), e.GetContainerId(), 0); err != nil {
				a.log.Warn("evicting a container for an NRI plugin failed", "container", e.GetContainerId(), "error", err)
			}
		}()
	}
	return failed, errors.Join(errs...)
}

// nsContext puts Berth's containerd namespace in ctx, which the library's
// own contexts lack.
func (a *API) nsContext(ctx context.Context) context.Context {
	return namespaces.WithNamespace(ctx, a.cfg.Namespace)
}

// state is how far plugins were told id went; 0 for nothing.
func (a *API) state(id string) lifecycle {
	a.toldMu.Lock()
	defer a.toldMu.Unlock()
	return a.told[id]
}

func (a *API) setState(id string, s lifecycle) {
	a.toldMu.Lock()
	defer a.toldMu.Unlock()
	if s == 0 {
		delete(a.told, id)
		return
	}
	a.told[id] = s
}

func (a *API) needsStop(id string) bool {
	s := a.state(id)
	return s == created || s == running
}

func (a *API) needsRemove(id string) bool { return a.state(id) != 0 }

// slogAdapter sends the NRI library's logs to berthd's log.
type slogAdapter struct{ l *slog.Logger }

func (s slogAdapter) Debugf(_ context.Context, f string, args ...any) {
	s.l.Debug(fmt.Sprintf(f, args...))
}
func (s slogAdapter) Infof(_ context.Context, f string, args ...any) {
	s.l.Info(fmt.Sprintf(f, args...))
}
func (s slogAdapter) Warnf(_ context.Context, f string, args ...any) {
	s.l.Warn(fmt.Sprintf(f, args...))
}
func (s slogAdapter) Errorf(_ context.Context, f string, args ...any) {
	s.l.Error(fmt.Sprintf(f, args...))
}
