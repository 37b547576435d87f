package container

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/containerd/containerd/v2/core/containers"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/containerd/containerd/v2/pkg/oci"
	"github.com/containerd/errdefs"
	"github.com/opencontainers/runtime-spec/specs-go"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/berth-cri/berth/seccomp"
)

// securitySpec builds a spec the way specOpts orders it: capabilities or
// privileged options first, security options last.
func securitySpec(t *testing.T, sec Security, sc *runtimeapi.LinuxContainerSecurityContext) (*oci.Spec, error) {
	t.Helper()
	opts := []oci.SpecOpts{oci.WithDefaultSpec()}
	if sc.GetPrivileged() {
		opts = append(opts, oci.WithPrivileged)
	} else {
		opts = append(opts, unprivilegedOpts(sc)...)
	}
	secOpts, err := securityOpts(sec, sc)
	if err != nil {
		return nil, err
	}
	ctx := namespaces.WithNamespace(context.Background(), "test")
	return oci.GenerateSpec(ctx, nil, &containers.Container{ID: "c"}, append(opts, secOpts...)...)
}

func allowsSyscall(s *oci.Spec, name string) bool {
	if s.Linux.Seccomp == nil {
		return true
	}
	for _, r := range s.Linux.Seccomp.Syscalls {
		if r.Action == specs.ActAllow && slices.Contains(r.Names, name) {
			return true
		}
	}
	return false
}

func TestSecurityOptsComeAfterCapabilities(t *testing.T) {
	rd := &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_RuntimeDefault}
	s, err := securitySpec(t, Security{}, &runtimeapi.LinuxContainerSecurityContext{Seccomp: rd})
	if err != nil {
		t.Fatal(err)
	}
	if s.Linux.Seccomp == nil || allowsSyscall(s, "unshare") {
		t.Fatal("RuntimeDefault without CAP_SYS_ADMIN must filter and deny unshare")
	}
	s, err = securitySpec(t, Security{}, &runtimeapi.LinuxContainerSecurityContext{
		Seccomp: rd, Capabilities: &runtimeapi.Capability{AddCapabilities: []string{"SYS_ADMIN"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !allowsSyscall(s, "unshare") {
		t.Fatal("RuntimeDefault did not see the added CAP_SYS_ADMIN: the option ran before the capabilities")
	}
}

func TestPrivilegedContainerIsUnconfined(t *testing.T) {
	root := t.TempDir()
	profile := filepath.Join(root, "p.json")
	if err := os.WriteFile(profile, []byte(`{"defaultAction": "SCMP_ACT_ERRNO"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := securitySpec(t, Security{Seccomp: seccomp.Resolver{Root: root}}, &runtimeapi.LinuxContainerSecurityContext{
		Privileged: true,
		Seccomp:    &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_Localhost, LocalhostRef: profile},
	})
	if err != nil {
		t.Fatal(err)
	}
	if s.Linux.Seccomp != nil || s.Process.ApparmorProfile != "" || len(s.Linux.MaskedPaths) != 0 || len(s.Linux.ReadonlyPaths) != 0 {
		t.Fatalf("privileged spec: seccomp %v, apparmor %q, masked %v, readonly %v",
			s.Linux.Seccomp != nil, s.Process.ApparmorProfile, s.Linux.MaskedPaths, s.Linux.ReadonlyPaths)
	}
}

func TestMaskedAndReadonlyPathsAreKubelets(t *testing.T) {
	// procMount Default: kubelet sends its lists, and they are used as sent.
	s, err := securitySpec(t, Security{}, &runtimeapi.LinuxContainerSecurityContext{
		MaskedPaths:   []string{"/proc/kcore", "/sys/firmware"},
		ReadonlyPaths: []string{"/proc/sys"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(s.Linux.MaskedPaths, []string{"/proc/kcore", "/sys/firmware"}) || !slices.Equal(s.Linux.ReadonlyPaths, []string{"/proc/sys"}) {
		t.Errorf("masked %v, read-only %v: want kubelet's lists as sent", s.Linux.MaskedPaths, s.Linux.ReadonlyPaths)
	}
	for _, m := range s.Mounts {
		if m.Destination == "/sys" && !slices.Contains(m.Options, "ro") {
			t.Errorf("/sys is mounted writable: %v", m.Options)
		}
	}
	// procMount Unmasked: kubelet sends no paths, and none may be added.
	s, err = securitySpec(t, Security{}, &runtimeapi.LinuxContainerSecurityContext{})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Linux.MaskedPaths) != 0 || len(s.Linux.ReadonlyPaths) != 0 {
		t.Errorf("no paths requested (procMount Unmasked), got masked %v, read-only %v", s.Linux.MaskedPaths, s.Linux.ReadonlyPaths)
	}
}

func TestBadLocalhostProfileFailsTheSpec(t *testing.T) {
	_, err := securitySpec(t, Security{Seccomp: seccomp.Resolver{Root: t.TempDir()}}, &runtimeapi.LinuxContainerSecurityContext{
		Seccomp: &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_Localhost, LocalhostRef: "/etc/passwd"},
	})
	if !errdefs.IsInvalidArgument(err) {
		t.Fatalf("err = %v, want InvalidArgument", err)
	}
}
