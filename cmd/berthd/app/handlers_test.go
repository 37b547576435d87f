package app

import (
	"io"
	"log/slog"
	"testing"

	"github.com/berth-cri/berth/internal/cgroup"
	"github.com/berth-cri/berth/internal/config"
)

// TestRuntimeHandlersFromConfig: the default config is today's runc
// (containerd.runc_binary, <state>/runc); added handlers get their binary
// resolved, or kept as named when missing, and a root of their own.
func TestRuntimeHandlersFromConfig(t *testing.T) {
	cfg := config.Default()
	cfg.State, cfg.CgroupDriver = "/run/b", "cgroupfs"
	cfg.Runtimes["crun"] = config.Runtime{Binary: "/bin/sh"} // any executable stands in
	cfg.Runtimes["youki"] = config.Runtime{Binary: "no-such-runtime"}
	cfg.Runtimes["kata"] = config.Runtime{Type: "io.containerd.kata.v2"}
	set, err := runtimeHandlers(cfg, "/opt/berth/runc", cgroup.Cgroupfs, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, binary, root string
		runc               bool
	}{
		{"", "/opt/berth/runc", "/run/b/runc", true},
		{"runc", "/opt/berth/runc", "/run/b/runc", true},
		{"crun", "/bin/sh", "/run/b/runtimes/crun", false},
		{"youki", "no-such-runtime", "/run/b/runtimes/youki", false},
		{"kata", "", "", false},
	} {
		h, err := set.Lookup(tc.name)
		if err != nil {
			t.Fatal(err)
		}
		o := h.RuncOptions()
		if h.Binary != tc.binary || h.Root != tc.root || h.IsRunc() != tc.runc || (o != nil && (o.BinaryName != tc.binary || o.Root != tc.root || o.SystemdCgroup)) {
			t.Errorf("handler %q: binary %q root %q runc %v options %v; want %q %q %v, cgroupfs", tc.name, h.Binary, h.Root, h.IsRunc(), o, tc.binary, tc.root, tc.runc)
		}
	}
}

// TestRuntimeHandlersFollowTheCgroupDriver: every runc-type handler's shim
// must be told to make cgroups through systemd exactly when the node's
// driver is systemd, or its pods' scopes land outside kubepods.slice (or
// runc refuses the slice:prefix:id path).
func TestRuntimeHandlersFollowTheCgroupDriver(t *testing.T) {
	cfg := config.Default()
	cfg.Runtimes["crun"] = config.Runtime{Binary: "/usr/bin/crun"}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, driver := range []cgroup.Driver{cgroup.Cgroupfs, cgroup.Systemd} {
		set, err := runtimeHandlers(cfg, "/usr/local/bin/runc", driver, log)
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range set.All() {
			if got, want := h.RuncOptions().SystemdCgroup, driver == cgroup.Systemd; got != want {
				t.Errorf("driver %s: handler %s has SystemdCgroup %v, want %v", driver, h.Name, got, want)
			}
		}
	}
}
