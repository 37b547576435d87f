package app

import (
	"io"
	"log/slog"
	"testing"

	"github.com/berth-cri/berth/config"
	"github.com/berth-cri/berth/internal/cgroup"
)

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
