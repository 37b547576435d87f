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
		opts = append(opts, capabilityOpts(sc.GetCapabilities())...)
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

func TestUnprivilegedDefaultsMaskTheKernel(t *testing.T) {
	s, err := securitySpec(t, Security{}, &runtimeapi.LinuxContainerSecurityContext{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/proc/kcore", "/proc/keys", "/sys/firmware"} {
		if !slices.Contains(s.Linux.MaskedPaths, p) {
			t.Errorf("%s is not masked: %v", p, s.Linux.MaskedPaths)
		}
	}
	for _, p := range []string{"/proc/sys", "/proc/sysrq-trigger", "/proc/bus"} {
		if !slices.Contains(s.Linux.ReadonlyPaths, p) {
			t.Errorf("%s is not read-only: %v", p, s.Linux.ReadonlyPaths)
		}
	}
	for _, m := range s.Mounts {
		if m.Destination == "/sys" && !slices.Contains(m.Options, "ro") {
			t.Errorf("/sys is mounted writable: %v", m.Options)
		}
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
