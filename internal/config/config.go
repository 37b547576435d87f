package config

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"time"

	"github.com/containerd/errdefs"
	"github.com/pelletier/go-toml/v2"
)

// DefaultPath is where berthd looks for its configuration file.
const DefaultPath = "/etc/berth/config.toml"

// Config is berthd's whole configuration.
type Config struct {
	Root     string `toml:"root" comment:"Persistent data: the embedded containerd's content and snapshots, pod files."`
	State    string `toml:"state" comment:"Runtime state (tmpfs): sockets, network namespaces, runc state."`
	Socket   string `toml:"socket" comment:"The CRI socket kubelet and crictl connect to."`
	LogLevel string `toml:"log_level" comment:"debug, info, warn or error."`
	// OOMScoreAdj is applied to berthd (and its containerd) so the kernel kills
	// pods before the runtime. Kernels that refuse it (no CAP_SYS_RESOURCE)
	// get a warning, not a failure.
	OOMScoreAdj  int    `toml:"oom_score_adj" comment:"OOM score of berthd and its containerd; clamped with a warning where the kernel refuses a negative value."`
	CgroupDriver string `toml:"cgroup_driver" comment:"cgroupfs, systemd, or auto (systemd when the host runs systemd as PID 1)."`
	// DropInfraContainer runs pods whose containers do not share a PID
	// namespace (no shareProcessNamespace) without a pause process, as
	// CRI-O's drop_infra_ctr does: Berth pins their namespaces itself.
	DropInfraContainer bool `toml:"drop_infra_container" comment:"Start pods whose containers do not share a PID namespace without a pause process (Berth pins their network, IPC and UTS namespaces). false gives every pod a pause."`
	// SandboxPool is the setting of the sandbox pool Berth kept before
	// 2026-12: accepted, so that an upgraded node's config still loads,
	// and ignored with a warning (Removed).
	SandboxPool *int `toml:"sandbox_pool,omitempty" comment:"Removed: Berth no longer starts sandboxes ahead of pods; ignored."`
	// DefaultRuntime names the runtimes entry a pod without a
	// RuntimeClass (an empty runtime handler) runs with.
	DefaultRuntime string `toml:"default_runtime" comment:"The runtime handler (a [runtimes.NAME] table) of pods that name none."`

	Containerd Containerd `toml:"containerd"`
	CNI        CNI        `toml:"cni"`
	Image      Image      `toml:"image"`
	Metrics    Metrics    `toml:"metrics"`
	Debug      Debug      `toml:"debug"`
	Streaming  Streaming  `toml:"streaming"`
	Security   Security   `toml:"security"`
	NRI        NRI        `toml:"nri"`
	Shortcuts  Shortcuts  `toml:"shortcuts"`
	// Runtimes are the runtime handlers, by name: what a RuntimeClass's
	// handler names (docs/configuration.md, Runtime handlers).
	Runtimes map[string]Runtime `toml:"runtimes" comment:"Runtime handlers by name, as RuntimeClasses name them; runc is the only one by default."`
}

// Runtime is one runtime handler: a containerd runtime (shim) and its
// options. As in containerd's runtimes table, Options is decoded into the
// shim's own options type: runc's for io.containerd.runc.v2 (NoPivotRoot,
// ShimCgroup, IoUid...), containerd's generic one for others (ConfigPath,
// TypeUrl, as Kata and gVisor read).
type Runtime struct {
	Type   string `toml:"type" comment:"The containerd runtime (empty: io.containerd.runc.v2): io.containerd.runc.v2 for runc, crun and any runc-compatible OCI runtime; another shim's name otherwise."`
	Binary string `toml:"binary" comment:"The OCI runtime binary of a io.containerd.runc.v2 runtime, looked up like containerd.binary; empty means containerd.runc_binary. Its systemd cgroup option follows cgroup_driver."`
	Root   string `toml:"root" comment:"The OCI runtime's state root (io.containerd.runc.v2); empty means <state>/runc for the runc handler, <state>/runtimes/<name> for others."`
	// Options go to the shim as its typed options; keys the other settings
	// own (BinaryName, Root, SystemdCgroup) are refused.
	Options map[string]any `toml:"options,omitempty" comment:"Extra options given to the shim, with containerd's key names."`
}

// ShimType is the runtime's containerd runtime: its type, else runc's shim.
func (r Runtime) ShimType() string {
	if r.Type == "" {
		return RuncShim
	}
	return r.Type
}

// RuntimeRoot is the state root of runtime name: its root, else the
// default, which for runc is where Berth kept runc's state before handlers
// were configurable.
func (c Config) RuntimeRoot(name string) string {
	switch {
	case c.Runtimes[name].Root != "":
		return c.Runtimes[name].Root
	case name == "runc":
		return filepath.Join(c.State, "runc")
	}
	return filepath.Join(c.State, "runtimes", name)
}

// Containerd says which containerd Berth drives and how.
type Containerd struct {
	Address    string `toml:"address" comment:"An existing containerd's socket. Empty: berthd starts and supervises its own."`
	Binary     string `toml:"binary" comment:"The embedded containerd binary: a path, or a name looked up next to berthd and then in PATH."`
	Namespace  string `toml:"namespace" comment:"containerd namespace holding Berth's images, containers and tasks."`
	RuncBinary string `toml:"runc_binary" comment:"The runc binary, looked up like containerd's."`
	LogLevel   string `toml:"log_level" comment:"Log level of the embedded containerd."`
	// StartTimeout bounds how long berthd waits for the embedded containerd
	// to answer after starting it.
	StartTimeout Duration `toml:"start_timeout" comment:"How long to wait for the embedded containerd to serve."`
}

// CNI locates the network configuration and plugins.
type CNI struct {
	ConfDir string   `toml:"conf_dir" comment:"The first network config (.conflist, .conf, .json, in lexical order) here is used."`
	BinDirs []string `toml:"bin_dirs" comment:"Where CNI plugin binaries are looked up, in order."`
}

// Image configures image pulls and the pod sandbox image.
type Image struct {
	PauseImage string `toml:"pause_image" comment:"Image of every pod's pause container. Berth imports its own built-in pause under this name at start, so no registry is needed."`
	// RegistryConfigDir holds containerd hosts.toml files: <host>/hosts.toml.
	RegistryConfigDir string `toml:"registry_config_dir" comment:"Registry hosts in containerd's hosts.toml layout: <dir>/<host>/hosts.toml (mirrors, plain HTTP, CA files)."`
	// PullProgressTimeout cancels a pull that has made no progress for this
	// long; zero disables it.
	PullProgressTimeout Duration `toml:"pull_progress_timeout" comment:"Cancel a pull that has received no data for this long (0 disables)."`
	// PreloadDir holds image archives imported at every start, before
	// berthd is ready (docs/airgap.md).
	PreloadDir string `toml:"preload_dir" comment:"Image archives (docker save, OCI layout tars) imported at start, before berthd is ready; empty imports none."`
}

// Metrics configures the opt-in Prometheus endpoint, which scrapers reach
// from off the node.
type Metrics struct {
	Address string `toml:"address" comment:"host:port serving Prometheus /metrics; empty (the default) serves nothing."`
}

// Debug configures the opt-in pprof endpoint. pprof shows berthd's memory
// and command line to whoever connects, so it is served only on loopback or
// a unix socket.
type Debug struct {
	Address string `toml:"address" comment:"Loopback host:port, or unix socket path, serving /debug/pprof; empty (the default) serves nothing."`
}

// Streaming configures the server that carries exec, attach and
// port-forward sessions. kubelet is its client and proxies it to the API
// server, so the loopback default serves a kubelet on the same node.
type Streaming struct {
	Address     string `toml:"address" comment:"host:port of the exec/attach/port-forward server; port 0 picks a free port."`
	TLSCertFile string `toml:"tls_cert_file" comment:"PEM certificate to serve the streaming server over TLS; empty serves plain HTTP."`
	TLSKeyFile  string `toml:"tls_key_file" comment:"PEM key of tls_cert_file."`
}

// Security configures how containers are confined (docs/security.md).
type Security struct {
	// SeccompProfileRoot is kubelet's <root-dir>/seccomp: Localhost
	// profiles are read from inside it and nowhere else.
	SeccompProfileRoot string `toml:"seccomp_profile_root" comment:"The only directory Localhost seccomp profiles are read from (kubelet's <root-dir>/seccomp); a profile path outside it is refused."`
	// DefaultSeccompProfile is what a container that asks for no seccomp
	// profile at all gets.
	DefaultSeccompProfile string `toml:"default_seccomp_profile" comment:"Seccomp of a container that asks for none (no profile, no path): unconfined (Kubernetes' meaning of unset) or runtime/default."`
}

// NRI configures the Node Resource Interface: plugins that connect to
// berthd's NRI socket (or that berthd starts from PluginPath) see every pod
// and container event and may adjust containers (docs/nri.md).
type NRI struct {
	// Enable is on by default, as in containerd 2.x: with no plugin
	// connected NRI costs nothing on the container path.
	Enable bool `toml:"enable" comment:"Serve the Node Resource Interface to plugins (on by default, as in containerd 2.x)."`
	// SocketPath empty means <state>/nri.sock.
	SocketPath       string `toml:"socket_path" comment:"The NRI socket plugins connect to; empty means nri.sock in the state dir."`
	PluginPath       string `toml:"plugin_path" comment:"Plugins berthd starts itself, named <index>-<name> (none when the directory is missing)."`
	PluginConfigPath string `toml:"plugin_config_path" comment:"Configuration of the plugins berthd starts: <index>-<name>.conf or <name>.conf."`
	// The timeouts bound a plugin's answer: a plugin that does not answer
	// in time is disconnected, so a hung plugin cannot hang the node.
	RegistrationTimeout Duration `toml:"plugin_registration_timeout" comment:"How long a connecting plugin may take to register."`
	RequestTimeout      Duration `toml:"plugin_request_timeout" comment:"How long a plugin may take to answer one event or the synchronisation."`
}

// Shortcuts are the places where Berth bypasses an upstream abstraction
// for speed, each listed in docs/architecture.md with what it relies on
// and the contract test that fails if upstream changes it. Each is on by
// default. Turning one off makes Berth take the upstream path instead: the
// way out for a node whose containerd, runc or CNI plugins no longer
// behave as the shortcut relies on.
type Shortcuts struct {
	// TaskCalls creates and deletes tasks with internal/task's calls to
	// containerd's task service; false uses the containerd client's
	// NewTask and Task.Delete with WithProcessKill.
	TaskCalls bool `toml:"task_calls" comment:"Create and delete tasks in fewer calls to containerd's task service than its client makes; false uses the client's NewTask and Task.Delete."`
	// PidfdSignals signals a process berthd started straight through a
	// pidfd (internal/procsig); false sends every signal through
	// containerd's Kill, which runs runc kill.
	PidfdSignals bool `toml:"pidfd_signals" comment:"Signal containers' and pauses' processes from berthd through a pidfd; false sends every signal through containerd (a runc kill each)."`
	// SkipIdlePortmap leaves the portmap plugin out of the chain of a pod
	// without hostPorts (cni/idle.go); false runs the configured chain
	// for every pod.
	SkipIdlePortmap bool `toml:"skip_idle_portmap" comment:"Leave the CNI portmap plugin out of the chain of a pod without hostPorts, where it does nothing; false runs the whole chain for every pod."`
	// SandboxShims puts a container's task into its pod's shim through
	// the pod's containerd sandbox record; false lets containerd run the
	// shim binary for each task, which finds the pod's shim by the
	// sandbox-id annotation.
	SandboxShims bool `toml:"sandbox_shims" comment:"Containers' tasks find their pod's shim through its containerd sandbox record; false has containerd run the shim binary for each task to find it."`
}

// NRISocket is the NRI socket in force: the configured one, else nri.sock
// in the state dir.
func (c Config) NRISocket() string {
	if c.NRI.SocketPath != "" {
		return c.NRI.SocketPath
	}
	return filepath.Join(c.State, "nri.sock")
}

// Default returns the configuration berthd uses when no file and no flag
// says otherwise.
func Default() Config {
	return Config{
		Root:               "/var/lib/berth",
		State:              "/run/berth",
		Socket:             "/run/berth/berth.sock",
		LogLevel:           "info",
		OOMScoreAdj:        -999,
		CgroupDriver:       "auto",
		DropInfraContainer: true,
		DefaultRuntime:     "runc",
		Runtimes:           map[string]Runtime{"runc": {Type: RuncShim}},
		Containerd: Containerd{
			Binary:       "containerd",
			Namespace:    "berth",
			RuncBinary:   "runc",
			LogLevel:     "warn",
			StartTimeout: Duration(30 * time.Second),
		},
		CNI: CNI{
			ConfDir: "/etc/cni/net.d",
			BinDirs: []string{"/opt/cni/bin"},
		},
		Image: Image{
			PauseImage:          "registry.k8s.io/pause:3.10.1",
			RegistryConfigDir:   "/etc/berth/certs.d",
			PullProgressTimeout: Duration(5 * time.Minute),
		},
		Streaming: Streaming{Address: "127.0.0.1:0"},
		Security:  Security{SeccompProfileRoot: "/var/lib/kubelet/seccomp", DefaultSeccompProfile: "unconfined"},
		NRI: NRI{
			Enable:              true,
			PluginPath:          "/opt/nri/plugins",
			PluginConfigPath:    "/etc/nri/conf.d",
			RegistrationTimeout: Duration(5 * time.Second),
			RequestTimeout:      Duration(2 * time.Second),
		},
		Shortcuts: Shortcuts{TaskCalls: true, PidfdSignals: true, SkipIdlePortmap: true, SandboxShims: true},
	}
}

// Load reads the file at path over the defaults. A missing file yields the
// defaults, so a fresh node needs no configuration. Unknown keys are an
// error: a misspelt setting must not be silently ignored.
func Load(path string) (Config, error) {
	cfg := Default()
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return cfg, nil
	}
	if err != nil {
		return cfg, fmt.Errorf("read config: %w", err)
	}
	dec := toml.NewDecoder(bytes.NewReader(data)).DisallowUnknownFields()
	if err := dec.Decode(&cfg); err != nil {
		var strict *toml.StrictMissingError
		if errors.As(err, &strict) {
			return cfg, fmt.Errorf("config %s: %s: %w", path, strict.String(), errdefs.ErrInvalidArgument)
		}
		return cfg, fmt.Errorf("config %s: %v: %w", path, err, errdefs.ErrInvalidArgument)
	}
	return cfg, nil
}

// Marshal renders cfg as commented TOML, as `berthd config default` prints.
func Marshal(cfg Config) ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteString("# berthd configuration. Every key is optional; a missing file means these defaults.\n\n")
	enc := toml.NewEncoder(&buf).SetIndentTables(true)
	if err := enc.Encode(cfg); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Validate reports the first setting berthd cannot run with.
func (c Config) Validate() error {
	for name, p := range map[string]string{"root": c.Root, "state": c.State, "socket": c.Socket, "cni.conf_dir": c.CNI.ConfDir, "security.seccomp_profile_root": c.Security.SeccompProfileRoot} {
		if !filepath.IsAbs(p) {
			return fmt.Errorf("%s must be an absolute path, got %q: %w", name, p, errdefs.ErrInvalidArgument)
		}
	}
	switch c.CgroupDriver {
	case "auto", "cgroupfs", "systemd":
	default:
		return fmt.Errorf("cgroup_driver must be auto, cgroupfs or systemd, got %q: %w", c.CgroupDriver, errdefs.ErrInvalidArgument)
	}
	if c.Containerd.Namespace == "" {
		return fmt.Errorf("containerd.namespace must not be empty: %w", errdefs.ErrInvalidArgument)
	}
	if len(c.CNI.BinDirs) == 0 {
		return fmt.Errorf("cni.bin_dirs must name at least one directory: %w", errdefs.ErrInvalidArgument)
	}
	if c.Containerd.Address == "" {
		// containerd refuses a shim socket directory longer than this: the
		// whole socket path must fit in sockaddr_un.
		if dir := ShimSocketDir(c.State); len(dir) > maxShimSocketDir {
			return fmt.Errorf("state dir %q is too long: the shim socket dir %q must be at most %d characters: %w",
				c.State, dir, maxShimSocketDir, errdefs.ErrInvalidArgument)
		}
	}
	if c.Streaming.Address == "" {
		return fmt.Errorf("streaming.address must not be empty: %w", errdefs.ErrInvalidArgument)
	}
	if (c.Streaming.TLSCertFile == "") != (c.Streaming.TLSKeyFile == "") {
		return fmt.Errorf("streaming.tls_cert_file and streaming.tls_key_file go together: %w", errdefs.ErrInvalidArgument)
	}
	if c.NRI.SocketPath != "" && !filepath.IsAbs(c.NRI.SocketPath) {
		return fmt.Errorf("nri.socket_path must be an absolute path, got %q: %w", c.NRI.SocketPath, errdefs.ErrInvalidArgument)
	}
	if c.NRI.RegistrationTimeout <= 0 || c.NRI.RequestTimeout <= 0 {
		return fmt.Errorf("nri.plugin_registration_timeout and nri.plugin_request_timeout must be positive: %w", errdefs.ErrInvalidArgument)
	}
	if c.Image.PreloadDir != "" && !filepath.IsAbs(c.Image.PreloadDir) {
		return fmt.Errorf("image.preload_dir must be an absolute path, got %q: %w", c.Image.PreloadDir, errdefs.ErrInvalidArgument)
	}
	if c.Image.PauseImage == "" {
		return fmt.Errorf("image.pause_image must not be empty: %w", errdefs.ErrInvalidArgument)
	}
	if p := c.Security.DefaultSeccompProfile; p != "unconfined" && p != "runtime/default" {
		return fmt.Errorf("security.default_seccomp_profile must be unconfined or runtime/default, got %q: %w", p, errdefs.ErrInvalidArgument)
	}
	if a := c.Debug.Address; a != "" && !filepath.IsAbs(a) && !IsLoopback(a) {
		return fmt.Errorf("debug.address must be a loopback host:port or a unix socket path, got %q: %w", a, errdefs.ErrInvalidArgument)
	}
	return c.validateRuntimes()
}

// RuncShim is containerd's runc shim, which runs any runc-compatible OCI
// runtime (runc, crun, youki) named by its binary.
const RuncShim = "io.containerd.runc.v2"

// handlerName is what Kubernetes allows as a RuntimeClass handler: a DNS
// label.
var handlerName = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)

func (c Config) validateRuntimes() error {
	if _, ok := c.Runtimes[c.DefaultRuntime]; !ok {
		return fmt.Errorf("default_runtime %q has no [runtimes.%s] table: %w", c.DefaultRuntime, c.DefaultRuntime, errdefs.ErrInvalidArgument)
	}
	for name, r := range c.Runtimes {
		switch {
		case !handlerName.MatchString(name):
			return fmt.Errorf("runtimes.%s: a runtime handler's name must be a DNS label (RuntimeClass's handler): %w", name, errdefs.ErrInvalidArgument)
		case r.ShimType() != RuncShim && (r.Binary != "" || r.Root != ""):
			return fmt.Errorf("runtimes.%s: binary and root are options of %s, not of %s: %w", name, RuncShim, r.Type, errdefs.ErrInvalidArgument)
		case r.Root != "" && !filepath.IsAbs(r.Root):
			return fmt.Errorf("runtimes.%s.root must be an absolute path, got %q: %w", name, r.Root, errdefs.ErrInvalidArgument)
		}
		for _, owned := range []string{"BinaryName", "Root", "SystemdCgroup"} {
			if _, ok := r.Options[owned]; ok {
				return fmt.Errorf("runtimes.%s.options.%s: set by binary, root and cgroup_driver, not options: %w", name, owned, errdefs.ErrInvalidArgument)
			}
		}
	}
	return nil
}

// IsLoopback says whether the host:port address listens on loopback only:
// a loopback IP or localhost (an empty host is every address).
func IsLoopback(address string) bool {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// maxShimSocketDir is containerd v2's limit on shim socket_dir (Linux).
const maxShimSocketDir = 38

// ShimSocketDir is where the embedded containerd puts shim sockets.
func ShimSocketDir(state string) string { return filepath.Join(state, "s") }

// Duration is a time.Duration written as "30s" in TOML.
type Duration time.Duration

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// Removed lists the settings that are set but no longer do anything, for
// berthd to warn about.
func (c *Config) Removed() []string {
	var out []string
	if c.SandboxPool != nil {
		out = append(out, "sandbox_pool: Berth no longer keeps a sandbox pool; pods without a shared PID namespace start without a pause instead (drop_infra_container)")
	}
	return out
}
