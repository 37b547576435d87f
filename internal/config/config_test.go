package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/containerd/errdefs"
)

func TestLoadMissingFileGivesDefaults(t *testing.T) {
	cfg, err := Load(filepath.Join(t.TempDir(), "absent.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Socket != "/run/berth/berth.sock" || cfg.Containerd.Namespace != "berth" {
		t.Fatalf("defaults not applied: %+v", cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("defaults must validate: %v", err)
	}
}

func TestLoadOverridesOnlyWhatTheFileSays(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.toml")
	writeFile(t, path, `
socket = "/tmp/b.sock"
[containerd]
address = "/run/containerd/containerd.sock"
[image]
pull_progress_timeout = "90s"
`)
	cfg, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Socket != "/tmp/b.sock" || cfg.Containerd.Address != "/run/containerd/containerd.sock" {
		t.Fatalf("file values not applied: %+v", cfg)
	}
	if time.Duration(cfg.Image.PullProgressTimeout) != 90*time.Second {
		t.Fatalf("duration = %v", time.Duration(cfg.Image.PullProgressTimeout))
	}
	if cfg.Root != "/var/lib/berth" || cfg.Containerd.Namespace != "berth" {
		t.Fatalf("unset keys lost their defaults: %+v", cfg)
	}
}

func TestLoadRejectsUnknownKeys(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.toml")
	writeFile(t, path, "[cni]\nconfdir = \"/x\"\n")
	_, err := Load(path)
	if !errdefs.IsInvalidArgument(err) || !strings.Contains(err.Error(), "confdir") {
		t.Fatalf("want InvalidArgument naming the key, got %v", err)
	}
}

func TestDefaultRoundTrips(t *testing.T) {
	out, err := Marshal(Default())
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"# The CRI socket", `socket = '/run/berth/berth.sock'`, "[containerd]", "pull_progress_timeout = '5m0s'"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("default config lacks %q:\n%s", want, out)
		}
	}
	path := filepath.Join(t.TempDir(), "config.toml")
	writeFile(t, path, string(out))
	cfg, err := Load(path)
	if err != nil {
		t.Fatalf("printed default does not load: %v", err)
	}
	if got, _ := Marshal(cfg); string(got) != string(out) {
		t.Fatalf("round trip changed the config:\n%s", got)
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(*Config)
		want   string
	}{
		{"relative socket", func(c *Config) { c.Socket = "berth.sock" }, "socket must be an absolute path"},
		{"relative seccomp profile root", func(c *Config) { c.Security.SeccompProfileRoot = "seccomp" }, "seccomp_profile_root must be an absolute path"},
		{"bad cgroup driver", func(c *Config) { c.CgroupDriver = "cgroupv3" }, "cgroup_driver"},
		{"empty namespace", func(c *Config) { c.Containerd.Namespace = "" }, "namespace"},
		{"no cni bin dirs", func(c *Config) { c.CNI.BinDirs = nil }, "bin_dirs"},
		{"state too long for shim sockets", func(c *Config) { c.State = "/run/" + strings.Repeat("x", 40) }, "too long"},
		{"relative NRI socket", func(c *Config) { c.NRI.SocketPath = "nri.sock" }, "nri.socket_path"},
		{"relative preload dir", func(c *Config) { c.Image.PreloadDir = "images" }, "image.preload_dir"},
		{"zero NRI request timeout", func(c *Config) { c.NRI.RequestTimeout = 0 }, "plugin_request_timeout"},
		{"unknown default seccomp profile", func(c *Config) { c.Security.DefaultSeccompProfile = "docker/default" }, "default_seccomp_profile"},
		{"runtime/default seccomp by default", func(c *Config) { c.Security.DefaultSeccompProfile = "runtime/default" }, ""},
		// pprof shows berthd's memory to whoever connects.
		{"debug on every address", func(c *Config) { c.Debug.Address = ":6060" }, "debug.address"},
		{"debug on a node address", func(c *Config) { c.Debug.Address = "10.0.0.5:6060" }, "debug.address"},
		{"debug on a relative socket", func(c *Config) { c.Debug.Address = "debug.sock" }, "debug.address"},
		{"debug on loopback", func(c *Config) { c.Debug.Address = "127.0.0.1:6060" }, ""},
		{"debug on IPv6 loopback", func(c *Config) { c.Debug.Address = "[::1]:6060" }, ""},
		{"debug on localhost", func(c *Config) { c.Debug.Address = "localhost:6060" }, ""},
		{"debug on a unix socket", func(c *Config) { c.Debug.Address = "/run/berth/debug.sock" }, ""},
		{"default runtime not configured", func(c *Config) { c.DefaultRuntime = "crun" }, `default_runtime "crun" has no [runtimes.crun]`},
		{"runtime name not a DNS label", func(c *Config) { c.Runtimes["Kata_VM"] = Runtime{} }, "DNS label"},
		{"binary of another shim", func(c *Config) { c.Runtimes["kata"] = Runtime{Type: "io.containerd.kata.v2", Binary: "kata"} }, "runtimes.kata: binary and root"},
		{"relative runtime root", func(c *Config) { c.Runtimes["crun"] = Runtime{Binary: "crun", Root: "crun"} }, "runtimes.crun.root"},
		{"runc binary through options", func(c *Config) { c.Runtimes["crun"] = Runtime{Options: map[string]any{"BinaryName": "crun"}} }, "runtimes.crun.options.BinaryName"},
		{"systemd cgroup through options", func(c *Config) { c.Runtimes["runc"] = Runtime{Options: map[string]any{"SystemdCgroup": true}} }, "options.SystemdCgroup"},
		{"long state is fine with external containerd", func(c *Config) {
			c.State = "/run/" + strings.Repeat("x", 40)
			c.Containerd.Address = "/run/containerd/containerd.sock"
		}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := Default()
			tc.mutate(&cfg)
			err := cfg.Validate()
			if tc.want == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if !errdefs.IsInvalidArgument(err) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want InvalidArgument containing %q, got %v", tc.want, err)
			}
		})
	}
}

// TestLoadAddsRuntimes: a file's [runtimes.NAME] tables add handlers to
// the default runc, whose defaults are what Berth ran before handlers were
// configurable: runc's shim, containerd.runc_binary, <state>/runc.
func TestLoadAddsRuntimes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.toml")
	writeFile(t, path, `
default_runtime = "crun"
[runtimes.crun]
binary = "crun"
[runtimes.kata]
type = "io.containerd.kata.v2"
[runtimes.kata.options]
ConfigPath = "/etc/kata/configuration.toml"
`)
	cfg, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, shim, root string }{
		{"runc", RuncShim, "/run/berth/runc"},
		{"crun", RuncShim, "/run/berth/runtimes/crun"},
		{"kata", "io.containerd.kata.v2", "/run/berth/runtimes/kata"},
	} {
		r, ok := cfg.Runtimes[tc.name]
		if !ok || r.ShimType() != tc.shim || cfg.RuntimeRoot(tc.name) != tc.root {
			t.Errorf("runtimes.%s = %+v (configured %v), root %s; want shim %s, root %s", tc.name, r, ok, cfg.RuntimeRoot(tc.name), tc.shim, tc.root)
		}
	}
	if cfg.DefaultRuntime != "crun" || cfg.Runtimes["kata"].Options["ConfigPath"] != "/etc/kata/configuration.toml" {
		t.Errorf("default %q, kata options %v", cfg.DefaultRuntime, cfg.Runtimes["kata"].Options)
	}
}

func TestNRISocketDefaultsIntoTheStateDir(t *testing.T) {
	cfg := Default()
	cfg.State = "/run/b"
	if got := cfg.NRISocket(); got != "/run/b/nri.sock" {
		t.Errorf("default NRI socket = %s, want it in the state dir", got)
	}
	cfg.NRI.SocketPath = "/var/run/nri/nri.sock"
	if got := cfg.NRISocket(); got != "/var/run/nri/nri.sock" {
		t.Errorf("configured NRI socket = %s", got)
	}
	if !cfg.NRI.Enable {
		t.Error("NRI must be on by default, as in containerd 2.x")
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}
