package seccomp

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/containerd/containerd/v2/core/containers"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/containerd/containerd/v2/pkg/oci"
	"github.com/containerd/errdefs"
	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

const blockChmod = `{"defaultAction": "SCMP_ACT_ALLOW",
 "syscalls": [{"names": ["chmod", "fchmodat"], "action": "SCMP_ACT_ERRNO"}]}`

// spec builds a default container spec with opts applied.
func spec(t *testing.T, opts ...oci.SpecOpts) *oci.Spec {
	t.Helper()
	ctx := namespaces.WithNamespace(context.Background(), "test")
	s, err := oci.GenerateSpec(ctx, nil, &containers.Container{ID: "c"}, append([]oci.SpecOpts{oci.WithDefaultSpec()}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// allowed reports whether the filter has an ALLOW rule naming the syscall
// (the default profile denies by default).
func allowed(sc *specs.LinuxSeccomp, syscall string) bool {
	for _, r := range sc.Syscalls {
		if r.Action == specs.ActAllow && slices.Contains(r.Names, syscall) {
			return true
		}
	}
	return false
}

func TestDefaultProfileFollowsCapabilities(t *testing.T) {
	s := spec(t, withDefaultProfile)
	sc := s.Linux.Seccomp
	if sc == nil || sc.DefaultAction != specs.ActErrno {
		t.Fatalf("default profile = %+v, want a deny-by-default filter", sc)
	}
	if !allowed(sc, "read") || allowed(sc, "unshare") || allowed(sc, "mount") || allowed(sc, "keyctl") {
		t.Fatal("default profile without CAP_SYS_ADMIN must allow read and deny unshare, mount and keyctl")
	}
	s = spec(t, oci.WithAddedCapabilities([]string{"CAP_SYS_ADMIN"}), withDefaultProfile)
	if !allowed(s.Linux.Seccomp, "unshare") || !allowed(s.Linux.Seccomp, "mount") {
		t.Fatal("default profile with CAP_SYS_ADMIN must allow unshare and mount")
	}
	if allowed(s.Linux.Seccomp, "keyctl") {
		t.Fatal("keyctl is denied whatever the capabilities")
	}
}

// A pod that asks for confinement gets, for its pause, the default profile
// for no capabilities, whatever the pause spec's capabilities, on the
// native architecture alone.
func TestSandboxOptsForAConfinedPodIsTheDefaultProfileWithoutCapabilities(t *testing.T) {
	for name, sc := range map[string]*runtimeapi.LinuxSandboxSecurityContext{
		"RuntimeDefault":            {Seccomp: &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_RuntimeDefault}},
		"Localhost":                 {Seccomp: &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_Localhost, LocalhostRef: "/var/lib/kubelet/seccomp/p.json"}},
		"legacy runtime/default":    {SeccompProfilePath: "runtime/default"},
		"privileged RuntimeDefault": {Privileged: true, Seccomp: &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_RuntimeDefault}},
		"unreadable request":        {Seccomp: &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_Unconfined, LocalhostRef: "x"}},
	} {
		t.Run(name, func(t *testing.T) {
			sc := spec(t, oci.WithAddedCapabilities([]string{"CAP_SYS_ADMIN"}), SandboxOpts(sc)).Linux.Seccomp
			if sc == nil || sc.DefaultAction != specs.ActErrno || !allowed(sc, "pause") || !allowed(sc, "wait4") {
				t.Fatalf("pause seccomp = %+v, want deny by default, pause and wait4 allowed", sc)
			}
			if allowed(sc, "mount") || allowed(sc, "unshare") {
				t.Fatal("pause's profile allows mount or unshare, which the default profile keeps for CAP_SYS_ADMIN")
			}
			full := spec(t, withDefaultProfile).Linux.Seccomp
			if len(sc.Architectures) != 1 || sc.Architectures[0] != full.Architectures[0] {
				t.Fatalf("pause's architectures %v, want only the native %v of %v", sc.Architectures, full.Architectures[0], full.Architectures)
			}
		})
	}
}

// denied says how the filter answers a call with the given flags (clone's;
// ignored for calls whose rules have no argument): the errno of the first
// ERRNO rule that matches, or 0.
func denied(sc *specs.LinuxSeccomp, syscall string, flags uint64) uint {
	for _, r := range sc.Syscalls {
		if r.Action != specs.ActErrno || !slices.Contains(r.Names, syscall) {
			continue
		}
		matches := true
		for _, a := range r.Args {
			if a.Index == cloneFlagsArg && a.Op == specs.OpMaskedEqual && flags&a.Value != a.ValueTwo {
				matches = false
			}
		}
		if matches {
			return *r.ErrnoRet
		}
	}
	return 0
}

// Any other pod's pause gets Berth's pause profile: the kernel's riskier
// calls refused, the rest allowed, never unconfined.
func TestSandboxOptsForAnUnconfinedPodIsThePauseProfile(t *testing.T) {
	for name, sc := range map[string]*runtimeapi.LinuxSandboxSecurityContext{
		"nothing asked":             nil,
		"Unconfined":                {Seccomp: &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_Unconfined}},
		"legacy unconfined":         {SeccompProfilePath: "unconfined"},
		"privileged, nothing asked": {Privileged: true},
	} {
		t.Run(name, func(t *testing.T) {
			s := spec(t, SandboxOpts(sc)).Linux.Seccomp
			if s == nil || s.DefaultAction != specs.ActAllow {
				t.Fatalf("pause seccomp = %+v, want the pause profile (allow by default)", s)
			}
			full := spec(t, withDefaultProfile).Linux.Seccomp
			if len(s.Architectures) != 1 || s.Architectures[0] != full.Architectures[0] {
				t.Fatalf("architectures %v, want only the native %v", s.Architectures, full.Architectures[0])
			}
			for _, call := range []string{"bpf", "keyctl", "perf_event_open", "io_uring_setup", "userfaultfd", "unshare", "setns", "mount", "ptrace"} {
				if got := denied(s, call, 0); got != uint(unix.EPERM) {
					t.Errorf("%s: errno %d, want EPERM", call, got)
				}
			}
			if got := denied(s, "clone", unix.CLONE_NEWUSER|unix.CLONE_NEWNS); got != uint(unix.EPERM) {
				t.Errorf("clone of a user namespace: errno %d, want EPERM", got)
			}
			if got := denied(s, "clone3", 0); got != uint(unix.ENOSYS) {
				t.Errorf("clone3: errno %d, want ENOSYS (so that callers fall back to clone)", got)
			}
			// What pause and the Go runtime under it need.
			const thread = unix.CLONE_VM | unix.CLONE_FS | unix.CLONE_FILES | unix.CLONE_SIGHAND | unix.CLONE_THREAD | unix.CLONE_SYSVSEM
			for _, call := range []string{"pause", "wait4", "rt_sigaction", "futex", "mmap", "execve", "exit_group"} {
				if got := denied(s, call, 0); got != 0 {
					t.Errorf("%s refused with errno %d", call, got)
				}
			}
			if got := denied(s, "clone", thread); got != 0 {
				t.Errorf("clone of a thread refused with errno %d", got)
			}
		})
	}
}

// profileRoot makes a profile root with a good profile in it, and returns
// the root and a directory outside it.
func profileRoot(t *testing.T) (root, outside string) {
	t.Helper()
	dir := t.TempDir()
	root, outside = filepath.Join(dir, "seccomp"), filepath.Join(dir, "elsewhere")
	for _, d := range []string{root, filepath.Join(root, "sub"), outside} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write := func(path, body string) {
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(root, "chmod.json"), blockChmod)
	write(filepath.Join(outside, "chmod.json"), blockChmod)
	write(filepath.Join(root, "bad.json"), `{"defaultAction": "SCMP_ACT_ALLOW", `)
	write(filepath.Join(root, "empty.json"), `{}`)
	write(filepath.Join(root, "both.json"), `{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"name": "chmod", "names": ["chmod"], "action": "SCMP_ACT_ERRNO"}]}`)
	for link, target := range map[string]string{
		"escape.json":     filepath.Join(outside, "chmod.json"),
		"escape-rel.json": "../elsewhere/chmod.json",
		"inside.json":     "sub/../chmod.json",
		"sub/dir-escape":  outside,
	} {
		if err := os.Symlink(target, filepath.Join(root, link)); err != nil {
			t.Fatal(err)
		}
	}
	if err := unix.Mkfifo(filepath.Join(root, "fifo.json"), 0o600); err != nil {
		t.Fatal(err)
	}
	return root, outside
}

func TestLocalhostProfileStaysInsideTheRoot(t *testing.T) {
	root, outside := profileRoot(t)
	r := Resolver{Root: root}
	for _, tc := range []struct {
		name, path string
		ok         bool
		errHas     string
	}{
		{name: "a profile in the root", path: filepath.Join(root, "chmod.json"), ok: true},
		{name: "a symlink that stays inside", path: filepath.Join(root, "inside.json"), ok: true},
		{name: "outside the root", path: filepath.Join(outside, "chmod.json"), errHas: "outside the profile root"},
		{name: "absolute symlink out", path: filepath.Join(root, "escape.json")},
		{name: "relative symlink out", path: filepath.Join(root, "escape-rel.json")},
		{name: "through a directory symlink out", path: filepath.Join(root, "sub/dir-escape/chmod.json")},
		{name: "missing", path: filepath.Join(root, "nope.json")},
		{name: "a directory", path: filepath.Join(root, "sub"), errHas: "not a regular file"},
		{name: "a FIFO", path: filepath.Join(root, "fifo.json"), errHas: "not a regular file"},
		{name: "bad JSON", path: filepath.Join(root, "bad.json"), errHas: "not a valid JSON profile"},
		{name: "no defaultAction", path: filepath.Join(root, "empty.json"), errHas: "no defaultAction"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sc := &runtimeapi.LinuxContainerSecurityContext{Seccomp: &runtimeapi.SecurityProfile{
				ProfileType: runtimeapi.SecurityProfile_Localhost, LocalhostRef: tc.path,
			}}
			opt, err := r.ContainerOpts(sc)
			if !tc.ok {
				if !errdefs.IsInvalidArgument(err) || !strings.Contains(err.Error(), tc.path) || !strings.Contains(err.Error(), tc.errHas) {
					t.Fatalf("ContainerOpts = %v; want InvalidArgument naming %s (%q)", err, tc.path, tc.errHas)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			s := spec(t, opt)
			if s.Linux.Seccomp == nil || s.Linux.Seccomp.DefaultAction != specs.ActAllow {
				t.Fatalf("seccomp = %+v, want the chmod profile", s.Linux.Seccomp)
			}
			if len(s.Linux.Seccomp.Syscalls) != 1 || s.Linux.Seccomp.Syscalls[0].Action != specs.ActErrno {
				t.Fatalf("syscalls = %+v", s.Linux.Seccomp.Syscalls)
			}
		})
	}
}

func TestLocalhostProfileIsInvalidWhenTheLibraryRejectsIt(t *testing.T) {
	root, _ := profileRoot(t)
	path := filepath.Join(root, "both.json")
	opt, err := Resolver{Root: root}.ContainerOpts(&runtimeapi.LinuxContainerSecurityContext{SeccompProfilePath: "localhost/" + path})
	if err != nil {
		t.Fatal(err) // the JSON is well-formed; the contradiction shows on conversion
	}
	ctx := namespaces.WithNamespace(context.Background(), "test")
	_, err = oci.GenerateSpec(ctx, nil, &containers.Container{ID: "c"}, oci.WithDefaultSpec(), opt)
	if !errdefs.IsInvalidArgument(err) || !strings.Contains(err.Error(), path) {
		t.Fatalf("GenerateSpec = %v, want InvalidArgument naming %s", err, path)
	}
}

func TestLocalhostWithoutARootIsRefused(t *testing.T) {
	root, _ := profileRoot(t)
	_, err := Resolver{}.ContainerOpts(&runtimeapi.LinuxContainerSecurityContext{Seccomp: &runtimeapi.SecurityProfile{
		ProfileType: runtimeapi.SecurityProfile_Localhost, LocalhostRef: filepath.Join(root, "chmod.json"),
	}})
	if !errdefs.IsInvalidArgument(err) {
		t.Fatalf("err = %v, want InvalidArgument", err)
	}
}

func TestContainerOpts(t *testing.T) {
	root, _ := profileRoot(t)
	for _, tc := range []struct {
		name string
		sc   *runtimeapi.LinuxContainerSecurityContext
		want string // "", "default" or "chmod"
		// nodeDefault is [security] default_seccomp_profile = runtime/default.
		nodeDefault bool
	}{
		{name: "node default: nil security context", sc: nil, nodeDefault: true, want: "default"},
		{name: "node default: unset", sc: &runtimeapi.LinuxContainerSecurityContext{}, nodeDefault: true, want: "default"},
		{name: "node default: Unconfined asked", sc: &runtimeapi.LinuxContainerSecurityContext{Seccomp: &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_Unconfined}}, nodeDefault: true},
		{name: "node default: legacy unconfined asked", sc: &runtimeapi.LinuxContainerSecurityContext{SeccompProfilePath: "unconfined"}, nodeDefault: true},
		{name: "node default: privileged", sc: &runtimeapi.LinuxContainerSecurityContext{Privileged: true}, nodeDefault: true},
		{name: "node default: Localhost", sc: &runtimeapi.LinuxContainerSecurityContext{SeccompProfilePath: "localhost/" + filepath.Join(root, "chmod.json")}, nodeDefault: true, want: "chmod"},
		{name: "nil security context", sc: nil},
		{name: "unset", sc: &runtimeapi.LinuxContainerSecurityContext{}},
		{name: "RuntimeDefault", sc: &runtimeapi.LinuxContainerSecurityContext{Seccomp: &runtimeapi.SecurityProfile{}}, want: "default"},
		{name: "legacy docker/default", sc: &runtimeapi.LinuxContainerSecurityContext{SeccompProfilePath: "docker/default"}, want: "default"},
		{name: "Localhost", sc: &runtimeapi.LinuxContainerSecurityContext{SeccompProfilePath: "localhost/" + filepath.Join(root, "chmod.json")}, want: "chmod"},
		{name: "privileged Localhost", sc: &runtimeapi.LinuxContainerSecurityContext{Privileged: true, Seccomp: &runtimeapi.SecurityProfile{
			ProfileType: runtimeapi.SecurityProfile_Localhost, LocalhostRef: filepath.Join(root, "chmod.json"),
		}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := Resolver{Root: root}
			if tc.nodeDefault {
				r.Default = RuntimeDefault
			}
			opt, err := r.ContainerOpts(tc.sc)
			if err != nil {
				t.Fatal(err)
			}
			// Start from a spec that has a filter, to see Unconfined clear it.
			s := spec(t, withDefaultProfile, opt)
			got := ""
			switch {
			case s.Linux.Seccomp == nil:
			case s.Linux.Seccomp.DefaultAction == specs.ActErrno:
				got = "default"
			default:
				got = "chmod"
			}
			if got != tc.want {
				t.Fatalf("seccomp is %q, want %q", got, tc.want)
			}
		})
	}
}
