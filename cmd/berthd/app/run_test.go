package app

import (
	"encoding/json"
	"testing"

	"github.com/berth-cri/berth/apparmor"
	"github.com/berth-cri/berth/internal/cgroup"
	"github.com/berth-cri/berth/internal/config"
)

// TestStatusInfoShowsWhatBerthdDecidedAtStart: `crictl info` is where an
// operator sees which cgroup driver berthd took and whether containers
// are confined by AppArmor, and why not.
func TestStatusInfoShowsWhatBerthdDecidedAtStart(t *testing.T) {
	degraded := &apparmor.Host{Degraded: "the kernel enforces AppArmor but apparmor_parser is not installed"}
	info := statusInfo(config.Default(), cgroup.Systemd, degraded)
	if info["cgroupDriver"] != "systemd" {
		t.Errorf("cgroupDriver %q, want systemd", info["cgroupDriver"])
	}
	var aa struct {
		Enabled  bool   `json:"enabled"`
		Degraded string `json:"degraded"`
	}
	if err := json.Unmarshal([]byte(info["apparmor"]), &aa); err != nil {
		t.Fatalf("apparmor %q: %v", info["apparmor"], err)
	}
	if aa.Enabled || aa.Degraded != degraded.Degraded {
		t.Errorf("apparmor %+v, want not enabled, saying why", aa)
	}
	if info := statusInfo(config.Default(), cgroup.Cgroupfs, &apparmor.Host{Enabled: true}); info["cgroupDriver"] != "cgroupfs" || info["apparmor"] != `{"enabled":true}` {
		t.Errorf("cgroupfs and AppArmor confining: %q, %q", info["cgroupDriver"], info["apparmor"])
	}
}
