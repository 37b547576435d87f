package supervisor

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/containerd/containerd/v2/defaults"
)

// Config says where and how to run the embedded containerd.
type Config struct {
	// Binary is the absolute path of the containerd binary.
	Binary string
	// Root and State are containerd's own persistent and volatile dirs.
	Root, State string
	// ShimSocketDir keeps shim sockets out of containerd's default
	// /run/containerd/s, so Berth never collides with a host containerd.
	ShimSocketDir string
	// NRISocket is where containerd's NRI socket would live; containerd's
	// NRI is disabled because Berth serves NRI itself.
	NRISocket string
	LogLevel  string
	// OOMScore is containerd's oom_score_adj; 0 leaves it alone.
	OOMScore int
	// LogPath receives containerd's stdout and stderr. A file rather than
	// berthd's own stderr: if berthd dies, a Go program writing to a broken
	// pipe on fd 2 is killed by SIGPIPE, and containerd must outlive berthd.
	LogPath string
	// StartTimeout bounds the wait for the health check after each start.
	StartTimeout time.Duration
	// Env is containerd's environment. Its PATH must find the shim.
	Env []string
	// UnpackPlatform (as platforms.Format writes it) and UnpackSnapshotter
	// are what containerd's transfer service unpacks pulled images for and
	// into: Berth's image platform and snapshotter. The transfer service
	// leaves an image it has no unpack_config for packed. Empty keeps
	// containerd's default (the host's platform into overlayfs).
	UnpackPlatform, UnpackSnapshotter string
	Logger                            *slog.Logger
}

// Address is containerd's gRPC socket.
func (c Config) Address() string { return filepath.Join(c.State, "containerd.sock") }

func (c Config) configPath() string { return filepath.Join(c.State, "config.toml") }

func (c Config) pidPath() string { return filepath.Join(c.State, "containerd.pid") }

// maxConcurrentDownloads bounds the blobs containerd downloads at once,
// as containerd's default does.
const maxConcurrentDownloads = 3

// disabledPlugins are the containerd plugins the embedded containerd does
// not load. Each costs memory and start-up time for as long as the node runs.
var disabledPlugins = []string{
	// containerd's own CRI and what only it uses: Berth is the CRI server,
	// and a second one would fight over CNI.
	"io.containerd.grpc.v1.cri",
	"io.containerd.cri.v1.runtime",
	"io.containerd.cri.v1.images",
	"io.containerd.podsandbox.controller.v1.podsandbox",
	// The sandbox controller API: Berth runs pods itself. The sandbox
	// store (io.containerd.sandbox.store.v1.local and the sandboxes gRPC
	// service) stays: it joins a pod's tasks to the pod's shim.
	"io.containerd.sandbox.controller.v1.shim",
	"io.containerd.grpc.v1.sandbox-controllers",
	// Per-task cgroup metrics for containerd's Prometheus endpoint, which
	// the embedded containerd does not serve (Berth's stats read the
	// cgroups through the shim), and containerd's restart labels, which
	// Berth never sets (kubelet restarts containers).
	"io.containerd.monitor.task.v1.cgroups",
	"io.containerd.monitor.container.v1.restart",
	// gRPC and ttrpc metrics and tracing interceptors, pprof over HTTP:
	// nothing reads them (berthd has its own /metrics and pprof).
	"io.containerd.metrics.v1.grpc-prometheus",
	"io.containerd.metrics.v1.grpc-otel",
	"io.containerd.ttrpc.v1.otelttrpc",
	"io.containerd.tracing.processor.v1.otlp",
	"io.containerd.internal.v1.tracing",
	"io.containerd.http.v1.pprof",
	// Snapshotters and differs Berth cannot be configured to use.
	"io.containerd.snapshotter.v1.erofs",
	"io.containerd.differ.v1.erofs",
	"io.containerd.mount-handler.v1.erofs",
	"io.containerd.snapshotter.v1.blockfile",
	"io.containerd.snapshotter.v1.devmapper",
	"io.containerd.snapshotter.v1.zfs",
}

// render returns containerd's config.toml (schema version 4, containerd 2.4).
func (c Config) render() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Written by berthd at every start; edit berthd's config instead.\n")
	fmt.Fprintf(&b, "version = 4\nroot = %q\nstate = %q\n", c.Root, c.State)
	if c.OOMScore != 0 {
		fmt.Fprintf(&b, "oom_score = %d\n", c.OOMScore)
	}
	fmt.Fprintf(&b, "disabled_plugins = [")
	for i, p := range disabledPlugins {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%q", p)
	}
	b.WriteString("]\n\n")
	// Schema 4 configures the servers as plugins; the old top-level [grpc]
	// and [ttrpc] tables are ignored, and containerd would then listen on
	// the host's /run/containerd/containerd.sock.
	fmt.Fprintf(&b, "[debug]\n  level = %q\n\n", c.LogLevel)
	fmt.Fprintf(&b, "[plugins.\"io.containerd.server.v1.grpc\"]\n  address = %q\n\n", c.Address())
	fmt.Fprintf(&b, "[plugins.\"io.containerd.server.v1.ttrpc\"]\n  address = %q\n\n", c.Address()+".ttrpc")
	fmt.Fprintf(&b, "[plugins.\"io.containerd.server.v1.debug\"]\n  address = \"\"\n\n")
	fmt.Fprintf(&b, "[plugins.\"io.containerd.shim.v1.manager\"]\n  socket_dir = %q\n\n", c.ShimSocketDir)
	fmt.Fprintf(&b, "[plugins.\"io.containerd.nri.v1.nri\"]\n  disable = true\n  socket_path = %q\n\n", c.NRISocket)
	// Berth pulls through the transfer service. Its download limit is
	// shared by every pull under way, as in containerd's CRI plugin.
	fmt.Fprintf(&b, "[plugins.\"io.containerd.transfer.v1.local\"]\n  max_concurrent_downloads = %d\n", maxConcurrentDownloads)
	if c.UnpackPlatform != "" && c.UnpackSnapshotter != "" {
		fmt.Fprintf(&b, "  [[plugins.\"io.containerd.transfer.v1.local\".unpack_config]]\n    platform = %q\n    snapshotter = %q\n    differ = %q\n",
			c.UnpackPlatform, c.UnpackSnapshotter, defaults.DefaultDiffer)
	}
	return b.String()
}

func (c Config) writeFiles() error {
	for _, dir := range []string{c.Root, c.State, c.ShimSocketDir, filepath.Dir(c.LogPath)} {
		// Searchable by all, as berthd's own root and state: user-namespaced
		// pods run as unprivileged node UIDs.
		if err := os.MkdirAll(dir, 0o711); err != nil { //nolint:gosec // G301: see above
			return err
		}
	}
	return os.WriteFile(c.configPath(), []byte(c.render()), 0o600)
}
