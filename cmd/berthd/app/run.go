package app

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/platforms"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"

	"github.com/berth-cri/berth/apparmor"
	"github.com/berth-cri/berth/cmd/berthd/supervisor"
	"github.com/berth-cri/berth/cni"
	"github.com/berth-cri/berth/conntrack"
	"github.com/berth-cri/berth/container"
	"github.com/berth-cri/berth/cri"
	"github.com/berth-cri/berth/images"
	"github.com/berth-cri/berth/internal/cgroup"
	"github.com/berth-cri/berth/internal/config"
	"github.com/berth-cri/berth/internal/host"
	"github.com/berth-cri/berth/internal/lifecycle"
	"github.com/berth-cri/berth/internal/unixsock"
	"github.com/berth-cri/berth/internal/version"
	"github.com/berth-cri/berth/portmap"
	"github.com/berth-cri/berth/runtime/nri"
	"github.com/berth-cri/berth/runtime/stats"
	"github.com/berth-cri/berth/runtime/streaming"
	"github.com/berth-cri/berth/sandbox"
	"github.com/berth-cri/berth/seccomp"
)

// preloadTimeout bounds the import of image.preload_dir at start, well
// inside berth.service's TimeoutStartSec (5 min).
const preloadTimeout = 3 * time.Minute

// shutdownGrace bounds how long in-flight RPCs may finish at shutdown.
const shutdownGrace = 10 * time.Second

// Run starts berthd and blocks until SIGTERM or SIGINT (or ctx ends), then
// shuts down in order: stop accepting RPCs, let in-flight ones finish, close
// the containerd client, stop the embedded containerd. Containers keep
// running: their shims do not depend on berthd or containerd.
//
// On upgradeSignal it shuts down the same way but keeps the CRI socket and
// the embedded containerd, and returns with o.handover set: the caller
// then executes the installed binary (reexec.go).
func (o *Options) Run(ctx context.Context) error {
	cfg := o.Config
	log := newLogger(cfg.LogLevel)
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	upgrades := make(chan os.Signal, 1)
	signal.Notify(upgrades, upgradeSignal)
	defer signal.Stop(upgrades)
	log.Info("berthd starting", "version", version.Version, "commit", version.Commit, "config", o.ConfigPath, "pid", os.Getpid())
	// Where the upgrade finds the binary the installer replaced.
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("locate berthd's binary: %w", err)
	}

	// The node's facts, read once and handed to every part that needs
	// them, the checks first. The cgroup driver is decided once from
	// them: runc, the cgroups' names, the stats and kubelet
	// (RuntimeConfig) must all agree on it.
	node := host.Detect()
	bins, err := checkHost(cfg, node)
	if err != nil {
		return err
	}
	driver := cgroup.Resolve(cfg.CgroupDriver, node.SystemdIsInit)
	log.Info("node", "cgroupV2", node.CgroupV2, "cgroupDriver", driver, "setting", cfg.CgroupDriver,
		"systemd", node.SystemdIsInit, "swap", node.Swap, "hugetlb", node.Hugetlb, "apparmor", node.AppArmor, "selinuxEnforcing", node.SELinuxEnforcing)
	runtimes, err := runtimeHandlers(cfg, bins.runc, driver, log)
	if err != nil {
		return err
	}
	oomScore := tuneProcess(log, cfg.OOMScoreAdj)
	for _, dir := range []string{cfg.Root, cfg.State} {
		// Searchable by all: a user-namespaced pod runs as an unprivileged
		// node UID that must reach its rootfs below.
		if err := os.MkdirAll(dir, 0o711); err != nil { //nolint:gosec // G301: see above
			return err
		}
	}
	// The installer signals the pid it finds here (deploy/kubernetes).
	pidFile := filepath.Join(cfg.State, "berthd.pid")
	if err := os.WriteFile(pidFile, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", pidFile, err)
	}
	defer func() {
		if o.handover == nil {
			os.Remove(pidFile)
		}
	}()

	address := cfg.Containerd.Address
	if address == "" {
		sup, err := supervisor.Start(ctx, supervisor.Config{
			Binary:        bins.containerd,
			Root:          filepath.Join(cfg.Root, "containerd"),
			State:         embeddedContainerd(cfg),
			ShimSocketDir: config.ShimSocketDir(cfg.State),
			NRISocket:     filepath.Join(cfg.State, "containerd-nri.sock"),
			LogLevel:      cfg.Containerd.LogLevel,
			OOMScore:      oomScore,
			LogPath:       filepath.Join(cfg.Root, "containerd.log"),
			StartTimeout:  time.Duration(cfg.Containerd.StartTimeout),
			Env:           childEnv(filepath.Dir(bins.shim), filepath.Dir(bins.runc)),
			// Pulls unpack inside containerd, for Berth's images.
			UnpackPlatform:    platforms.Format(platforms.DefaultSpec()),
			UnpackSnapshotter: images.DefaultSnapshotter,
			Logger:            log.With("component", "supervisor"),
		})
		if err != nil {
			return err
		}
		defer func() {
			if o.handover != nil {
				sup.Release() // the next berthd adopts it
			} else {
				sup.Stop()
			}
		}()
		address = sup.Address()
	}
	client, err := containerd.New(address,
		containerd.WithDefaultNamespace(cfg.Containerd.Namespace),
		containerd.WithTimeout(10*time.Second),
		// After the embedded containerd restarts (in well under a second),
		// reconnect within half a second, not after the default backoff's
		// 10 s: pods must see their runtime back as soon as it is.
		containerd.WithExtraDialOpts([]grpc.DialOption{grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: 50 * time.Millisecond, Multiplier: 1.6, MaxDelay: 500 * time.Millisecond},
			MinConnectTimeout: 2 * time.Second,
		})}))
	if err != nil {
		return fmt.Errorf("connect to containerd at %s: %w", address, err)
	}
	defer client.Close()
	probeHandlers(ctx, runtimes, client.IntrospectionService(), node, log)

	network, err := cni.New(cni.Config{ConfDir: cfg.CNI.ConfDir, BinDirs: cfg.CNI.BinDirs, StateDir: filepath.Join(cfg.Root, "cni"), KeepIdlePlugins: !cfg.Shortcuts.SkipIdlePortmap})
	if err != nil {
		return err
	}
	ct, err := conntrack.New()
	if err != nil {
		return fmt.Errorf("conntrack: %w", err)
	}
	defer ct.Close()
	purger := conntrack.NewPurger(ct, log.With("component", "conntrack"))
	defer func() {
		// Purges asked for by the last teardowns still run; a stuck
		// netlink socket must not hold up the shutdown.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := purger.Close(ctx); err != nil {
			log.Warn("conntrack purges left undone at shutdown; the entries will expire on their own", "error", err)
		}
	}()
	imgs, err := images.New(images.Config{
		Client:              client,
		Namespace:           cfg.Containerd.Namespace,
		RegistryConfigDir:   cfg.Image.RegistryConfigDir,
		PullProgressTimeout: time.Duration(cfg.Image.PullProgressTimeout),
		PauseImage:          cfg.Image.PauseImage,
		// berthd wrote its own containerd's unpack_config.
		TransferUnpacks: cfg.Containerd.Address == "",
		Logger:          log.With("component", "images"),
	})
	if err != nil {
		return err
	}
	var nriAPI *nri.API // nil: NRI disabled
	if cfg.NRI.Enable {
		if nriAPI, err = nri.New(nri.Config{
			SocketPath: cfg.NRISocket(), PluginPath: cfg.NRI.PluginPath, PluginConfigPath: cfg.NRI.PluginConfigPath,
			RegistrationTimeout: time.Duration(cfg.NRI.RegistrationTimeout), RequestTimeout: time.Duration(cfg.NRI.RequestTimeout),
			Client: client, Namespace: cfg.Containerd.Namespace, Logger: log.With("component", "nri"),
		}); err != nil {
			return err
		}
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	events := lifecycle.NewHub()
	sandboxes := sandbox.NewManager(sandbox.Config{
		Containerd:     sandbox.NewContainerd(client, !cfg.Shortcuts.TaskCalls),
		Root:           cfg.Root,
		State:          cfg.State,
		PauseImage:     imgs.PauseRef(),
		Handlers:       runtimes,
		CgroupDriver:   driver,
		ResolvConf:     host.ResolvConf(),
		MinOOMScoreAdj: oomScore,
		Network:        network,
		HostPorts:      portmap.New(),
		Conntrack:      purger,
		NRI:            nriAPI.SandboxHooks(),
		Logger:         log.With("component", "sandbox"),
		Registerer:     reg,
		Events:         events,
		DropInfra:      cfg.DropInfraContainer,
		// The shortcuts (docs/architecture.md), each on unless turned off.
		UpstreamSignals: !cfg.Shortcuts.PidfdSignals,
	})

	defer func() {
		// After the CRI server stopped, before containerd does.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := sandboxes.WaitCleanups(ctx); err != nil {
			log.Warn("pause tasks still being deleted at shutdown; RemovePodSandbox finishes them after the restart", "error", err)
		}
	}()

	for _, removed := range cfg.Removed() {
		log.Warn("ignoring a removed setting", "setting", removed)
	}
	appArmor := apparmor.Detect(node.AppArmor, cfg.State)
	if appArmor.Degraded != "" {
		log.Warn("AppArmor: " + appArmor.Degraded)
	}
	containers := container.NewManager(container.Config{
		Node:           node,
		Containerd:     container.NewContainerd(client, "", !cfg.Shortcuts.TaskCalls),
		Client:         client,
		Sandboxes:      sandboxes,
		Images:         container.IndexImages{Service: imgs},
		State:          cfg.State,
		Root:           cfg.Root,
		MinOOMScoreAdj: oomScore,
		CgroupDriver:   driver,
		Security: container.Security{
			Seccomp:          seccomp.Resolver{Root: cfg.Security.SeccompProfileRoot, Default: seccompDefault(cfg.Security)},
			AppArmor:         appArmor,
			SELinuxEnforcing: node.SELinuxEnforcing,
		},
		NRI:             nriAPI.ContainerHooks(),
		Logger:          log.With("component", "container"),
		Events:          events,
		UpstreamSignals: !cfg.Shortcuts.PidfdSignals,
		NoSandboxShims:  !cfg.Shortcuts.SandboxShims,
	})
	sandboxes.SetContainers(containers)
	// Subscribed before recovery: a recovered container may be killed
	// meanwhile.
	oomCtx, stopOOM := context.WithCancel(ctx)
	defer stopOOM()
	go containers.WatchOOM(oomCtx, cfg.Containerd.Namespace)
	nriAPI.Attach(sandboxes.Store(), containers)

	streamSrv, err := newStreamingServer(cfg, client, containers, sandboxes, log)
	if err != nil {
		return err
	}
	go func() {
		if err := streamSrv.Serve(); err != nil {
			log.Error("streaming server stopped", "error", err)
		}
	}()
	defer streamSrv.Close()
	log.Info("serving exec, attach and port-forward", "address", streamSrv.Addr())
	if cfg.Streaming.TLSCertFile == "" && !config.IsLoopback(cfg.Streaming.Address) {
		log.Warn("the streaming server is served over plain HTTP on a non-loopback address: exec and attach sessions cross the network unencrypted, guarded only by their single-use tokens; set streaming.tls_cert_file", "address", streamSrv.Addr())
	}

	svc := cri.New(cri.Options{
		Namespace:    cfg.Containerd.Namespace,
		Client:       client,
		Containerd:   client,
		Network:      network,
		Sandboxes:    sandboxes,
		Containers:   containers,
		Images:       imgs,
		Handlers:     runtimes,
		CgroupDriver: driver.CRI(),
		StatusInfo:   statusInfo(cfg, driver, appArmor),
		Logger:       log.With("component", "cri"),
		Registerer:   reg,
		Streaming:    streamSrv,
		Events:       events,
		Stats: stats.NewCollector(stats.Config{
			Client:       client,
			Namespace:    cfg.Containerd.Namespace,
			Snapshotter:  imgs.Snapshotter(),
			Containers:   containers.Store(),
			Sandboxes:    sandboxes.Store(),
			CgroupDriver: driver,
			CgroupV2:     node.CgroupV2,
			Mountpoint: func(ctx context.Context) (string, error) {
				u, err := imgs.FsUsage(ctx)
				return u.Mountpoint, err
			},
			Logger: log.With("component", "stats"),
		}),
	})
	l, inherited, err := criListener(cfg.Socket, log)
	if err != nil {
		return err
	}
	defer l.Close() // grpc closes it too, once Serve has run
	srv := svc.NewGRPCServer()
	serveErr := make(chan error, 1)
	serve := func() { go func() { serveErr <- srv.Serve(l) }() }
	if inherited {
		// kubelet's calls wait in the backlog until this berthd is ready.
		log.Info("took over the CRI socket from the berthd before this one; serving once ready", "socket", cfg.Socket)
	} else {
		serve()
	}
	defer gracefulStop(log, srv)

	if cfg.Metrics.Address != "" {
		ms, err := serveMetrics(cfg.Metrics.Address, reg)
		if err != nil {
			return err
		}
		defer ms.Close()
		log.Info("serving metrics", "address", ms.Addr)
	}
	if cfg.Debug.Address != "" {
		ds, err := serveDebug(cfg.Debug.Address)
		if err != nil {
			return err
		}
		defer ds.Close()
		log.Info("serving pprof", "address", ds.Addr)
	}
	go dumpStacksOnSIGUSR1(ctx, log, cfg.State)

	// Images before readiness: kubelet's first RunPodSandbox needs the
	// pause image, and no registry may be reachable.
	// The index follows containerd's image store from here on: images
	// loaded out of band (ctr, nerdctl) show at once.
	if err := imgs.Start(ctx); err != nil {
		return err
	}
	if cfg.Image.PreloadDir != "" {
		// Failures are logged per archive; berthd starts without them.
		_ = imgs.Preload(ctx, cfg.Image.PreloadDir, preloadTimeout)
	}
	pauseBinary, _ := host.LookPath("berth-pause") // none: the pause image must be present
	if _, err := imgs.EnsurePause(ctx, cfg.Image.PauseImage, pauseBinary); err != nil {
		return err
	}
	recoverStart := time.Now()
	recoverCtx, cancelRecover := context.WithTimeout(ctx, 2*time.Minute)
	recovered, err := sandboxes.Recover(recoverCtx)
	cancelRecover()
	if err != nil {
		return fmt.Errorf("recover state from containerd: %w", err)
	}
	// Containers after their sandboxes: kubelet must find both as it left them.
	recoverCtx, cancelRecover = context.WithTimeout(ctx, 2*time.Minute)
	recoveredContainers, err := containers.Recover(recoverCtx)
	cancelRecover()
	if err != nil {
		return fmt.Errorf("recover containers from containerd: %w", err)
	}
	log.Info("state recovered", "sandboxes", recovered, "containers", recoveredContainers, "took", time.Since(recoverStart).Round(time.Millisecond))
	// NRI plugins are synchronised with what was recovered.
	if err := nriAPI.Start(); err != nil {
		return err
	}
	defer nriAPI.Stop()
	svc.SetReady()
	if inherited {
		serve()
	}
	log.Info("berthd is ready", "socket", cfg.Socket, "containerd", address)
	notifyReady(log, cfg.Socket)

	for {
		select {
		case <-ctx.Done():
			log.Info("berthd shutting down")
			notifyStopping(log)
			return nil
		case err := <-serveErr:
			return fmt.Errorf("CRI server stopped: %w", err)
		case <-upgrades:
			next, err := checkBinary(ctx, exe)
			if err != nil {
				log.Error("not upgrading: the installed binary does not run; berthd goes on as it is", "binary", exe, "error", err)
				continue
			}
			if o.handover, err = prepareHandover(l, exe, cfg.Socket); err != nil {
				log.Error("not upgrading; berthd goes on as it is", "error", err)
				continue
			}
			log.Info("upgrading: shutting down to re-execute the installed binary, keeping the CRI socket and containerd",
				"binary", exe, "next", next)
			notifyReloading(log, exe)
			return nil
		}
	}
}

// newStreamingServer listens for exec, attach and port-forward sessions,
// over TLS when a certificate is configured.
func newStreamingServer(cfg config.Config, client *containerd.Client, containers *container.Manager, sandboxes *sandbox.Manager, log *slog.Logger) (*streaming.Server, error) {
	var tlsConfig *tls.Config
	if cfg.Streaming.TLSCertFile != "" {
		cert, err := tls.LoadX509KeyPair(cfg.Streaming.TLSCertFile, cfg.Streaming.TLSKeyFile)
		if err != nil {
			return nil, fmt.Errorf("streaming TLS: %w", err)
		}
		tlsConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	rt := streaming.NewRuntime(streaming.Config{
		Client:     client,
		Namespace:  cfg.Containerd.Namespace,
		Containers: containers,
		Sandboxes:  sandboxes.Store(),
		State:      cfg.State,
		Logger:     log.With("component", "streaming"),
	})
	return streaming.NewServer(cfg.Streaming.Address, tlsConfig, rt, log.With("component", "streaming"))
}

type binaries struct{ containerd, shim, runc string }

// checkHost verifies the node and resolves the binaries berthd runs.
func checkHost(cfg config.Config, node host.Facts) (binaries, error) {
	var b binaries
	req := host.Requirements{Binaries: []string{cfg.Containerd.RuncBinary}}
	if cfg.Containerd.Address == "" {
		req.Binaries = append(req.Binaries, cfg.Containerd.Binary)
	}
	if err := host.Check(node, req); err != nil {
		return b, err
	}
	b.runc, _ = host.LookPath(cfg.Containerd.RuncBinary)
	if cfg.Containerd.Address != "" {
		return b, nil
	}
	b.containerd, _ = host.LookPath(cfg.Containerd.Binary)
	// containerd finds its shim through PATH; look beside containerd first.
	shim, err := host.LookPath("containerd-shim-runc-v2", filepath.Dir(b.containerd))
	if err != nil {
		return b, fmt.Errorf("node is not ready for berthd: %w", err)
	}
	b.shim = shim
	return b, nil
}

// tuneProcess applies berthd's OOM score and thread limit and returns the
// OOM score in force, which the embedded containerd then gets too.
func tuneProcess(log *slog.Logger, oomScore int) int {
	inForce, err := host.SetOOMScoreAdj(oomScore)
	if err != nil {
		log.Warn("cannot set berthd's OOM score; continuing (needs CAP_SYS_RESOURCE for negative values)", "error", err)
	}
	if _, err := host.SetMaxThreads(); err != nil {
		log.Warn("cannot raise the thread limit", "error", err)
	}
	return inForce
}

// childEnv is the embedded containerd's environment: berthd's own, with
// the shim's and runc's directories first in PATH, and without systemd's
// NOTIFY_SOCKET: containerd notifies systemd itself, and its READY=1 would
// come before berthd is ready.
func childEnv(dirs ...string) []string {
	env := []string{}
	path := strings.Join(dirs, ":")
	for _, kv := range os.Environ() {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			path += ":" + v
			continue
		}
		if strings.HasPrefix(kv, "NOTIFY_SOCKET=") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "PATH="+path)
}

// statusInfo is what `crictl info` shows beside the conditions: the
// configuration, the facts berthd decided at start from it and the node,
// and the versions.
func statusInfo(cfg config.Config, driver cgroup.Driver, appArmor *apparmor.Host) map[string]string {
	data, _ := json.Marshal(cfg)
	aa, _ := json.Marshal(struct {
		Enabled  bool   `json:"enabled"`
		Degraded string `json:"degraded,omitempty"`
	}{appArmor.Enabled, appArmor.Degraded})
	return map[string]string{
		"config":       string(data),
		"cgroupDriver": driver.String(),
		"apparmor":     string(aa),
		"version":      fmt.Sprintf(`{"berth":%q,"commit":%q,"containerd":%q,"runc":%q,"cniPlugins":%q}`, version.Version, version.Commit, version.Containerd, version.Runc, version.CNIPlugins),
	}
}

func newLogger(level string) *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		l = slog.LevelInfo
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: l}))
}

type grpcServer interface {
	GracefulStop()
	Stop()
}

// gracefulStop lets in-flight RPCs finish, but not forever: a long image
// pull must not hold up a node's shutdown.
func gracefulStop(log *slog.Logger, srv grpcServer) {
	done := make(chan struct{})
	go func() { srv.GracefulStop(); close(done) }()
	select {
	case <-done:
	case <-time.After(shutdownGrace):
		log.Warn("in-flight CRI requests did not finish; cancelling them", "grace", shutdownGrace)
		srv.Stop()
	}
}

type metricsServer struct {
	*http.Server
	Addr string
}

// serveMetrics serves /metrics alone: scrapers reach it from off the node.
func serveMetrics(address string, reg *prometheus.Registry) (*metricsServer, error) {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	l, err := net.Listen("tcp", address)
	if err != nil {
		return nil, fmt.Errorf("metrics address: %w", err)
	}
	return serveHTTP(l, mux), nil
}

// serveDebug serves pprof on a loopback address or a unix socket (0600),
// as config.Validate allows: it shows berthd's memory to whoever connects.
func serveDebug(address string) (*metricsServer, error) {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	var l net.Listener
	var err error
	if filepath.IsAbs(address) {
		if fi, err := os.Lstat(address); err == nil && fi.Mode()&os.ModeSocket != 0 {
			os.Remove(address) // left by a berthd that died
		}
		l, err = unixsock.Listen(address, 0o600)
	} else {
		l, err = net.Listen("tcp", address)
	}
	if err != nil {
		return nil, fmt.Errorf("debug address: %w", err)
	}
	return serveHTTP(l, mux), nil
}

func serveHTTP(l net.Listener, h http.Handler) *metricsServer {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(l) }() // the listener is bound already; Serve returns ErrServerClosed at shutdown
	return &metricsServer{Server: srv, Addr: l.Addr().String()}
}

func dumpStacksOnSIGUSR1(ctx context.Context, log *slog.Logger, dir string) {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGUSR1)
	defer signal.Stop(sigs)
	for {
		select {
		case <-ctx.Done():
			return
		case <-sigs:
			if path, err := host.DumpStacks(dir); err != nil {
				log.Error("goroutine stack dump failed", "error", err)
			} else {
				log.Info("goroutine stacks written", "path", path)
			}
		}
	}
}

// seccompDefault is [security] default_seccomp_profile, checked by
// config.Validate.
func seccompDefault(s config.Security) seccomp.Kind {
	if s.DefaultSeccompProfile == "runtime/default" {
		return seccomp.RuntimeDefault
	}
	return seccomp.Unconfined
}
