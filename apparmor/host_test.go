package apparmor

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/containerd/containerd/v2/core/containers"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/containerd/containerd/v2/pkg/oci"
	"github.com/containerd/errdefs"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/berth-cri/berth/internal/host"
)

// fakeHost is an enabled Host whose profiles list is a file and whose
// parser "loads" a profile by adding its line to that list.
func fakeHost(t *testing.T, loaded ...string) (*Host, *int) {
	t.Helper()
	dir := t.TempDir()
	list := filepath.Join(dir, "profiles")
	var lines string
	for _, p := range loaded {
		lines += p + " (enforce)\n"
	}
	if err := os.WriteFile(list, []byte(lines), 0o644); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	calls := 0
	h := &Host{Enabled: true, ProfilesFile: list, PolicyDir: dir, Parser: "apparmor_parser", Dir: dir}
	h.run = func(_ context.Context, name string, args ...string) ([]byte, error) {
		mu.Lock()
		defer mu.Unlock()
		calls++
		if name != "apparmor_parser" || len(args) != 2 || args[0] != "-Kr" {
			return nil, errors.New("unexpected parser call")
		}
		text, err := os.ReadFile(args[1])
		if err != nil || !strings.Contains(string(text), "profile berth-default ") {
			return []byte("bad profile"), errors.New("exit status 1")
		}
		f, err := os.OpenFile(list, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		_, err = f.WriteString("berth-default (enforce)\n")
		return nil, err
	}
	return h, &calls
}

// apply builds a spec with opt, as CreateContainer does.
func apply(opt oci.SpecOpts) (*oci.Spec, error) {
	ctx := namespaces.WithNamespace(context.Background(), "test")
	return oci.GenerateSpec(ctx, nil, &containers.Container{ID: "c"}, oci.WithDefaultSpec(), opt)
}

func apparmorOf(t *testing.T, opt oci.SpecOpts) string {
	t.Helper()
	s, err := apply(opt)
	if err != nil {
		t.Fatal(err)
	}
	return s.Process.ApparmorProfile
}

func TestRuntimeDefaultLoadsBerthDefaultOnce(t *testing.T) {
	h, calls := fakeHost(t)
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			opt, err := h.ContainerOpts(&runtimeapi.LinuxContainerSecurityContext{})
			if err != nil {
				t.Error(err)
				return
			}
			s, err := apply(opt)
			if err != nil {
				t.Error(err)
			} else if s.Process.ApparmorProfile != DefaultProfileName {
				t.Errorf("profile = %q", s.Process.ApparmorProfile)
			}
		}()
	}
	wg.Wait()
	if *calls != 1 {
		t.Fatalf("apparmor_parser ran %d times, want once", *calls)
	}
	if left, _ := filepath.Glob(filepath.Join(h.Dir, "berth-default-*")); len(left) != 0 {
		t.Fatalf("generated profile left behind: %v", left)
	}
}

func TestLoadedBerthDefaultIsLeftAlone(t *testing.T) {
	h, calls := fakeHost(t, DefaultProfileName)
	opt, err := h.ContainerOpts(nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := apparmorOf(t, opt); got != DefaultProfileName {
		t.Fatalf("profile = %q", got)
	}
	if *calls != 0 {
		t.Fatal("a loaded berth-default was reloaded")
	}
}

func TestParserFailureIsReported(t *testing.T) {
	h, _ := fakeHost(t)
	h.run = func(context.Context, string, ...string) ([]byte, error) {
		return []byte("syntax error at line 3"), errors.New("exit status 1")
	}
	opt, err := h.ContainerOpts(nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = apply(opt)
	if !errdefs.IsFailedPrecondition(err) || !strings.Contains(err.Error(), "syntax error at line 3") {
		t.Fatalf("err = %v", err)
	}
}

func TestLocalhostMustBeLoaded(t *testing.T) {
	h, _ := fakeHost(t, "deny-write", "deny-write-extra")
	sc := func(name string) *runtimeapi.LinuxContainerSecurityContext {
		return &runtimeapi.LinuxContainerSecurityContext{Apparmor: &runtimeapi.SecurityProfile{
			ProfileType: runtimeapi.SecurityProfile_Localhost, LocalhostRef: name,
		}}
	}
	opt, err := h.ContainerOpts(sc("deny-write"))
	if err != nil {
		t.Fatal(err)
	}
	if got := apparmorOf(t, opt); got != "deny-write" {
		t.Fatalf("profile = %q", got)
	}
	for _, name := range []string{"not-loaded", "deny", "deny-write-ex"} {
		if _, err := h.ContainerOpts(sc(name)); !errdefs.IsFailedPrecondition(err) {
			t.Errorf("%s: err = %v, want FailedPrecondition", name, err)
		}
	}
}

func TestUnconfinedAndPrivilegedSetNoProfile(t *testing.T) {
	h, calls := fakeHost(t)
	for _, sc := range []*runtimeapi.LinuxContainerSecurityContext{
		{Apparmor: &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_Unconfined}},
		{Privileged: true},
	} {
		opt, err := h.ContainerOpts(sc)
		if err != nil {
			t.Fatal(err)
		}
		if got := apparmorOf(t, opt); got != "" {
			t.Fatalf("profile = %q", got)
		}
	}
	if *calls != 0 {
		t.Fatal("berth-default was loaded for a container that does not use it")
	}
}

func TestDisabledHost(t *testing.T) {
	h := &Host{ProfilesFile: "/nonexistent"}
	opt, err := h.ContainerOpts(&runtimeapi.LinuxContainerSecurityContext{ApparmorProfile: "runtime/default"})
	if err != nil {
		t.Fatal(err)
	}
	if got := apparmorOf(t, opt); got != "" {
		t.Fatalf("profile = %q on a node without AppArmor", got)
	}
	_, err = h.ContainerOpts(&runtimeapi.LinuxContainerSecurityContext{ApparmorProfile: "localhost/x"})
	if !errdefs.IsFailedPrecondition(err) || !strings.Contains(err.Error(), "AppArmor is not enabled on this node") {
		t.Fatalf("err = %v", err)
	}
}

// TestKernel checks Detect against this kernel. Kernel-dependent: on a
// kernel without AppArmor it checks that Berth sees none; with AppArmor
// it loads berth-default for real and needs root and apparmor_parser.
func TestKernel(t *testing.T) {
	h := Detect(host.Detect().AppArmor, t.TempDir())
	if _, err := os.Stat("/sys/module/apparmor"); err != nil {
		if h.Enabled {
			t.Fatal("AppArmor reported enabled on a kernel without the module")
		}
		t.Skip("kernel-dependent: this kernel has no AppArmor (/sys/module/apparmor is absent); loading berth-default is not exercised")
	}
	if !h.Enabled {
		t.Skip("kernel-dependent: AppArmor is built in but disabled on this kernel")
	}
	if os.Geteuid() != 0 {
		t.Skip("kernel-dependent: loading a profile needs root")
	}
	if _, err := exec.LookPath("apparmor_parser"); err != nil {
		t.Skip("kernel-dependent: apparmor_parser is not installed")
	}
	opt, err := h.ContainerOpts(nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := apparmorOf(t, opt); got != DefaultProfileName {
		t.Fatalf("profile = %q", got)
	}
	if ok, err := h.loaded(DefaultProfileName); err != nil || !ok {
		t.Fatalf("berth-default loaded = %v, %v", ok, err)
	}
}

// TestDetectWithoutParserDegradesToUnconfined: a kernel that enforces
// AppArmor on a minimal system without apparmor_parser must not make every
// CreateContainer fail: containers run unconfined, and the host says why.
func TestDetectWithoutParserDegradesToUnconfined(t *testing.T) {
	found := func() (string, error) { return "/sbin/apparmor_parser", nil }
	missing := func() (string, error) { return "", exec.ErrNotFound }
	for _, tc := range []struct {
		name         string
		kernel       bool
		look         func() (string, error)
		wantEnabled  bool
		wantDegraded bool
		wantProfile  string
	}{
		{"kernel and parser", true, found, true, false, DefaultProfileName},
		{"kernel without parser", true, missing, false, true, ""},
		{"no AppArmor in the kernel", false, found, false, false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := detect(tc.kernel, tc.look, t.TempDir())
			if h.Enabled != tc.wantEnabled || (h.Degraded != "") != tc.wantDegraded {
				t.Fatalf("Enabled %v, Degraded %q; want %v, degraded %v", h.Enabled, h.Degraded, tc.wantEnabled, tc.wantDegraded)
			}
			if !h.Enabled {
				opt, err := h.ContainerOpts(&runtimeapi.LinuxContainerSecurityContext{})
				if err != nil {
					t.Fatalf("RuntimeDefault: %v, want the container to run unconfined", err)
				}
				if got := apparmorOf(t, opt); got != tc.wantProfile {
					t.Errorf("profile %q, want %q", got, tc.wantProfile)
				}
				_, err = h.ContainerOpts(&runtimeapi.LinuxContainerSecurityContext{Apparmor: &runtimeapi.SecurityProfile{
					ProfileType: runtimeapi.SecurityProfile_Localhost, LocalhostRef: "mine"}})
				if !errdefs.IsFailedPrecondition(err) {
					t.Errorf("Localhost profile: %v, want FailedPrecondition", err)
				}
				if tc.wantDegraded && !strings.Contains(err.Error(), "apparmor_parser") {
					t.Errorf("Localhost profile error %q does not say the parser is missing", err)
				}
			} else if h.Parser != "/sbin/apparmor_parser" {
				t.Errorf("parser %q, want the one found", h.Parser)
			}
		})
	}
}

func TestLookParserSearchesSbin(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("PATH", t.TempDir())
	if _, err := lookParser([]string{dir}); err == nil {
		t.Fatal("found a parser in an empty directory")
	}
	p := filepath.Join(dir, "apparmor_parser")
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if got, err := lookParser([]string{dir}); err != nil || got != p {
		t.Errorf("lookParser = %q, %v; want %q", got, err, p)
	}
}
