package sandbox

import (
	"testing"

	"github.com/containerd/errdefs"
	"github.com/opencontainers/runtime-spec/specs-go"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

func TestUserNamespace(t *testing.T) {
	m := func(c, h, l uint32) []*runtimeapi.IDMapping {
		return []*runtimeapi.IDMapping{{ContainerId: c, HostId: h, Length: l}}
	}
	pod := func(u, g []*runtimeapi.IDMapping) *runtimeapi.UserNamespace {
		return &runtimeapi.UserNamespace{Mode: runtimeapi.NamespaceMode_POD, Uids: u, Gids: g}
	}
	want := []specs.LinuxIDMapping{{ContainerID: 0, HostID: 65536, Size: 65536}}
	tests := []struct {
		name    string
		opt     *runtimeapi.UserNamespace
		enabled bool
		invalid bool
	}{
		{"unset: the node's", nil, false, false},
		{"NODE", &runtimeapi.UserNamespace{Mode: runtimeapi.NamespaceMode_NODE}, false, false},
		{"POD with one mapping each", pod(m(0, 65536, 65536), m(0, 65536, 65536)), true, false},
		{"NODE with mappings", &runtimeapi.UserNamespace{Mode: runtimeapi.NamespaceMode_NODE, Uids: m(0, 1000, 10)}, false, true},
		{"POD without mappings", pod(nil, nil), false, true},
		{"POD without GID mappings", pod(m(0, 65536, 65536), nil), false, true},
		{"POD with two UID mappings", pod(append(m(0, 1000, 10), m(10, 2000, 10)...), m(0, 65536, 65536)), false, true},
		{"container ID 0 not mapped", pod(m(1, 65536, 65536), m(1, 65536, 65536)), false, true},
		{"empty mapping", pod(m(0, 65536, 0), m(0, 65536, 65536)), false, true},
		{"range past the last host ID", pod(m(0, 4294901760, 65536), m(0, 65536, 65536)), false, true},
		{"a nil mapping", pod([]*runtimeapi.IDMapping{nil}, m(0, 65536, 65536)), false, true},
		{"CONTAINER", &runtimeapi.UserNamespace{Mode: runtimeapi.NamespaceMode_CONTAINER}, false, true},
		{"TARGET", &runtimeapi.UserNamespace{Mode: runtimeapi.NamespaceMode_TARGET}, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ids, err := UserNamespace(tt.opt)
			if tt.invalid {
				if !errdefs.IsInvalidArgument(err) {
					t.Fatalf("UserNamespace(%v) = %v, want InvalidArgument", tt.opt, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("UserNamespace(%v): %v", tt.opt, err)
			}
			if ids.Enabled() != tt.enabled {
				t.Fatalf("Enabled() = %v, want %v", ids.Enabled(), tt.enabled)
			}
			if tt.enabled && (ids.UIDs[0] != want[0] || ids.GIDs[0] != want[0]) {
				t.Errorf("mappings = %v %v, want %v", ids.UIDs, ids.GIDs, want)
			}
		})
	}
}

func TestValidateUserNamespaceRefusesNodeNamespaces(t *testing.T) {
	ids := []*runtimeapi.IDMapping{{ContainerId: 0, HostId: 65536, Length: 65536}}
	for _, ns := range []*runtimeapi.NamespaceOption{
		{Network: runtimeapi.NamespaceMode_NODE},
		{Pid: runtimeapi.NamespaceMode_NODE},
		{Ipc: runtimeapi.NamespaceMode_NODE},
	} {
		ns.UsernsOptions = &runtimeapi.UserNamespace{Mode: runtimeapi.NamespaceMode_POD, Uids: ids, Gids: ids}
		cfg := &runtimeapi.PodSandboxConfig{Linux: &runtimeapi.LinuxPodSandboxConfig{SecurityContext: &runtimeapi.LinuxSandboxSecurityContext{NamespaceOptions: ns}}}
		if err := validateUserNamespace(cfg); !errdefs.IsInvalidArgument(err) {
			t.Errorf("user namespace with %v: %v, want InvalidArgument", ns, err)
		}
		ns.UsernsOptions = nil
		if err := validateUserNamespace(cfg); err != nil {
			t.Errorf("no user namespace with %v: %v", ns, err)
		}
	}
}
