package container

import (
	"testing"

	"github.com/containerd/errdefs"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/berth-cri/berth/sandbox"
)

func TestUserNamespaceFollowsThePod(t *testing.T) {
	m := func(h uint32) []*runtimeapi.IDMapping {
		return []*runtimeapi.IDMapping{{ContainerId: 0, HostId: h, Length: 65536}}
	}
	podNS := func(u *runtimeapi.UserNamespace) *sandbox.Sandbox {
		return &sandbox.Sandbox{Metadata: sandbox.Metadata{Config: &runtimeapi.PodSandboxConfig{Linux: &runtimeapi.LinuxPodSandboxConfig{
			SecurityContext: &runtimeapi.LinuxSandboxSecurityContext{NamespaceOptions: &runtimeapi.NamespaceOption{UsernsOptions: u}},
		}}}}
	}
	ctrNS := func(u *runtimeapi.UserNamespace) *runtimeapi.ContainerConfig {
		return &runtimeapi.ContainerConfig{Linux: &runtimeapi.LinuxContainerConfig{
			SecurityContext: &runtimeapi.LinuxContainerSecurityContext{NamespaceOptions: &runtimeapi.NamespaceOption{UsernsOptions: u}},
		}}
	}
	pod := &runtimeapi.UserNamespace{Mode: runtimeapi.NamespaceMode_POD, Uids: m(65536), Gids: m(65536)}
	other := &runtimeapi.UserNamespace{Mode: runtimeapi.NamespaceMode_POD, Uids: m(131072), Gids: m(131072)}
	node := &runtimeapi.UserNamespace{Mode: runtimeapi.NamespaceMode_NODE}
	for _, tc := range []struct {
		name      string
		pod, ctr  *runtimeapi.UserNamespace
		enabled   bool
		wantError bool
	}{
		{"pod's mappings repeated", pod, pod, true, false},
		{"container says nothing: the pod's", pod, nil, true, false},
		{"node pod, node container", node, node, false, false},
		{"nothing anywhere", nil, nil, false, false},
		{"other mappings than the pod's", pod, other, false, true},
		{"node container in a userns pod", pod, node, false, true},
		{"userns container in a node pod", nil, pod, false, true},
		{"invalid container mode", pod, &runtimeapi.UserNamespace{Mode: runtimeapi.NamespaceMode_CONTAINER}, false, true},
	} {
		ids, err := userNamespace(podNS(tc.pod), ctrNS(tc.ctr))
		if tc.wantError {
			if !errdefs.IsInvalidArgument(err) {
				t.Errorf("%s: %v, want InvalidArgument", tc.name, err)
			}
			continue
		}
		if err != nil || ids.Enabled() != tc.enabled {
			t.Errorf("%s: enabled %v, %v; want enabled %v", tc.name, ids.Enabled(), err, tc.enabled)
		}
		if tc.enabled && ids.UIDs[0].HostID != 65536 {
			t.Errorf("%s: mappings %v, want the pod's", tc.name, ids.UIDs)
		}
	}
}

func TestBindMountIDMappings(t *testing.T) {
	dir := t.TempDir()
	ids := []*runtimeapi.IDMapping{{ContainerId: 0, HostId: 65536, Length: 65536}}
	mnt, _, err := bindMount(&runtimeapi.Mount{ContainerPath: "/d", HostPath: dir, UidMappings: ids, GidMappings: ids}, ensureHostPath)
	if err != nil {
		t.Fatal(err)
	}
	if len(mnt.UIDMappings) != 1 || mnt.UIDMappings[0].HostID != 65536 || mnt.UIDMappings[0].Size != 65536 || len(mnt.GIDMappings) != 1 {
		t.Errorf("idmapped mount: UID %v GID %v, want 0:65536:65536 each", mnt.UIDMappings, mnt.GIDMappings)
	}
	for name, m := range map[string]*runtimeapi.Mount{
		"UIDs only":    {ContainerPath: "/d", HostPath: dir, UidMappings: ids},
		"empty range":  {ContainerPath: "/d", HostPath: dir, UidMappings: []*runtimeapi.IDMapping{{HostId: 1}}, GidMappings: ids},
		"out of range": {ContainerPath: "/d", HostPath: dir, UidMappings: []*runtimeapi.IDMapping{{HostId: 4294967000, Length: 65536}}, GidMappings: ids},
	} {
		if _, _, err := bindMount(m, ensureHostPath); !errdefs.IsInvalidArgument(err) {
			t.Errorf("%s: %v, want InvalidArgument", name, err)
		}
	}
}
