package app

import (
	"github.com/spf13/pflag"

	"github.com/berth-cri/berth/internal/config"
)

// Options is what berthd runs with: the config file's path and the flags
// that override it, completed into Config.
type Options struct {
	ConfigPath string
	// flags holds flag values; a flag overrides the file only if it was set.
	flags  config.Config
	Config config.Config
	// handover is set by Run when it returns to re-execute berthd.
	handover *handover
}

// flagOverrides maps each flag to the setting it overrides.
var flagOverrides = map[string]func(dst *config.Config, src config.Config){
	"root":                 func(d *config.Config, s config.Config) { d.Root = s.Root },
	"state":                func(d *config.Config, s config.Config) { d.State = s.State },
	"socket":               func(d *config.Config, s config.Config) { d.Socket = s.Socket },
	"log-level":            func(d *config.Config, s config.Config) { d.LogLevel = s.LogLevel },
	"containerd-address":   func(d *config.Config, s config.Config) { d.Containerd.Address = s.Containerd.Address },
	"containerd-binary":    func(d *config.Config, s config.Config) { d.Containerd.Binary = s.Containerd.Binary },
	"containerd-namespace": func(d *config.Config, s config.Config) { d.Containerd.Namespace = s.Containerd.Namespace },
	"runc-binary":          func(d *config.Config, s config.Config) { d.Containerd.RuncBinary = s.Containerd.RuncBinary },
	"cni-conf-dir":         func(d *config.Config, s config.Config) { d.CNI.ConfDir = s.CNI.ConfDir },
	"cni-bin-dir":          func(d *config.Config, s config.Config) { d.CNI.BinDirs = s.CNI.BinDirs },
	"pause-image":          func(d *config.Config, s config.Config) { d.Image.PauseImage = s.Image.PauseImage },
	"registry-config-dir":  func(d *config.Config, s config.Config) { d.Image.RegistryConfigDir = s.Image.RegistryConfigDir },
	"metrics-address":      func(d *config.Config, s config.Config) { d.Metrics.Address = s.Metrics.Address },
	"debug-address":        func(d *config.Config, s config.Config) { d.Debug.Address = s.Debug.Address },
	"cgroup-driver":        func(d *config.Config, s config.Config) { d.CgroupDriver = s.CgroupDriver },
	"seccomp-profile-root": func(d *config.Config, s config.Config) { d.Security.SeccompProfileRoot = s.Security.SeccompProfileRoot },
	"enable-nri":           func(d *config.Config, s config.Config) { d.NRI.Enable = s.NRI.Enable },
	"nri-socket":           func(d *config.Config, s config.Config) { d.NRI.SocketPath = s.NRI.SocketPath },
}

// AddFlags registers berthd's flags; their defaults are the config defaults.
func (o *Options) AddFlags(fs *pflag.FlagSet) {
	d := config.Default()
	f := &o.flags
	fs.StringVar(&o.ConfigPath, "config", config.DefaultPath, "configuration file (TOML); missing means defaults")
	fs.StringVar(&f.Root, "root", d.Root, "persistent data directory")
	fs.StringVar(&f.State, "state", d.State, "runtime state directory")
	fs.StringVar(&f.Socket, "socket", d.Socket, "CRI socket path")
	fs.StringVar(&f.LogLevel, "log-level", d.LogLevel, "log level: debug, info, warn, error")
	fs.StringVar(&f.Containerd.Address, "containerd-address", d.Containerd.Address, "use an existing containerd at this socket instead of starting one")
	fs.StringVar(&f.Containerd.Binary, "containerd-binary", d.Containerd.Binary, "embedded containerd binary (path, or name looked up next to berthd, then in PATH)")
	fs.StringVar(&f.Containerd.Namespace, "containerd-namespace", d.Containerd.Namespace, "containerd namespace for Berth's objects")
	fs.StringVar(&f.Containerd.RuncBinary, "runc-binary", d.Containerd.RuncBinary, "runc binary (path or name)")
	fs.StringVar(&f.CNI.ConfDir, "cni-conf-dir", d.CNI.ConfDir, "CNI network configuration directory")
	fs.StringSliceVar(&f.CNI.BinDirs, "cni-bin-dir", d.CNI.BinDirs, "CNI plugin directories (repeat or comma-separate)")
	fs.StringVar(&f.Image.PauseImage, "pause-image", d.Image.PauseImage, "pod sandbox (pause) image")
	fs.StringVar(&f.Image.RegistryConfigDir, "registry-config-dir", d.Image.RegistryConfigDir, "hosts.toml registry configuration directory")
	fs.StringVar(&f.Metrics.Address, "metrics-address", d.Metrics.Address, "serve Prometheus /metrics on this host:port (off when empty)")
	fs.StringVar(&f.Debug.Address, "debug-address", d.Debug.Address, "serve /debug/pprof on this loopback host:port or unix socket path (off when empty)")
	fs.StringVar(&f.CgroupDriver, "cgroup-driver", d.CgroupDriver, "cgroupfs, systemd or auto")
	fs.StringVar(&f.Security.SeccompProfileRoot, "seccomp-profile-root", d.Security.SeccompProfileRoot, "the only directory Localhost seccomp profiles are read from")
	fs.BoolVar(&f.NRI.Enable, "enable-nri", d.NRI.Enable, "serve the Node Resource Interface to plugins")
	fs.StringVar(&f.NRI.SocketPath, "nri-socket", d.NRI.SocketPath, "NRI socket plugins connect to (default: nri.sock in the state dir)")
}

// Complete loads the config file and applies the flags that were set.
func (o *Options) Complete(fs *pflag.FlagSet) error {
	cfg, err := config.Load(o.ConfigPath)
	if err != nil {
		return err
	}
	for name, apply := range flagOverrides {
		if fs.Changed(name) {
			apply(&cfg, o.flags)
		}
	}
	o.Config = cfg
	return nil
}

// Validate checks the completed configuration.
func (o *Options) Validate() error { return o.Config.Validate() }
