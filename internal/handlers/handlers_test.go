package handlers

import (
	"context"
	"strings"
	"testing"

	"github.com/containerd/containerd/api/types/runc/options"
	"github.com/containerd/containerd/v2/core/containers"
	"github.com/containerd/typeurl/v2"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	runtimeoptions "github.com/containerd/containerd/api/types/runtimeoptions/v1"
	"github.com/containerd/errdefs"
	"github.com/opencontainers/runtime-spec/specs-go/features"
)

func testSet(t *testing.T, node Node) *Set {
	t.Helper()
	s, err := New(map[string]Spec{
		"runc": {Binary: "/usr/bin/runc", Root: "/run/berth/runc", Runc: true},
		"crun": {Binary: "/usr/bin/crun", Root: "/run/berth/runtimes/crun", Options: map[string]any{"NoPivotRoot": true}},
		"kata": {Type: "io.containerd.kata.v2", Options: map[string]any{"ConfigPath": "/etc/kata/configuration.toml"}},
	}, "runc", node)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestLookup(t *testing.T) {
	s := testSet(t, Node{})
	for _, tc := range []struct{ ask, want string }{{"", "runc"}, {"runc", "runc"}, {"crun", "crun"}, {"kata", "kata"}} {
		h, err := s.Lookup(tc.ask)
		if err != nil || h.Name != tc.want {
			t.Errorf("Lookup(%q) = %v, %v; want %s", tc.ask, h, err, tc.want)
		}
	}
	_, err := s.Lookup("gvisor")
	if !errdefs.IsInvalidArgument(err) || !strings.Contains(err.Error(), "known: crun, kata, runc") {
		t.Errorf("Lookup of an unconfigured handler: %v; want InvalidArgument naming crun, kata, runc", err)
	}
}

func TestShimOptions(t *testing.T) {
	s := testSet(t, Node{SystemdCgroup: true})
	crun, _ := s.Lookup("crun")
	o := crun.RuncOptions()
	if o == nil || o.BinaryName != "/usr/bin/crun" || o.Root != "/run/berth/runtimes/crun" || !o.NoPivotRoot || !o.SystemdCgroup {
		t.Errorf("crun's runc shim options = %v; want its binary, root, NoPivotRoot and SystemdCgroup (systemd driver)", o)
	}
	o.ShimCgroup = "/changed"
	if crun.RuncOptions().ShimCgroup != "" {
		t.Error("a caller's change to the options reached the handler's")
	}
	kata, _ := s.Lookup("kata")
	if ko, ok := kata.Options().(*runtimeoptions.Options); !ok || ko.ConfigPath != "/etc/kata/configuration.toml" {
		t.Errorf("kata's options = %#v; want containerd's runtime options with its ConfigPath", kata.Options())
	}
	if kata.RuncOptions() != nil || kata.IsRunc() || crun.IsRunc() {
		t.Error("only runc is runc")
	}
	if r, _ := s.Lookup("runc"); !r.IsRunc() || r.RuncOptions().SystemdCgroup != true {
		t.Error("runc is runc, and follows the systemd driver")
	}
	if r, _ := testSet(t, Node{}).Lookup("runc"); r.RuncOptions().SystemdCgroup {
		t.Error("SystemdCgroup set under the cgroupfs driver")
	}
}

func TestNewRefuses(t *testing.T) {
	for name, tc := range map[string]struct {
		specs map[string]Spec
		def   string
	}{
		"unknown runc option": {map[string]Spec{"runc": {Options: map[string]any{"NoSuchOption": true}}}, "runc"},
		"mistyped option":     {map[string]Spec{"runc": {Options: map[string]any{"NoPivotRoot": "yes"}}}, "runc"},
		"missing default":     {map[string]Spec{"runc": {}}, "crun"},
	} {
		if _, err := New(tc.specs, tc.def, Node{}); !errdefs.IsInvalidArgument(err) {
			t.Errorf("%s: New = %v; want InvalidArgument", name, err)
		}
	}
}

func TestFeaturesOf(t *testing.T) {
	yes := true
	full := &features.Features{
		MountOptions: []string{"ro", "rro"},
		Linux: &features.Linux{
			Namespaces:      []string{"mount", "user"},
			MountExtensions: &features.MountExtensions{IDMap: &features.IDMap{Enabled: &yes}},
		},
	}
	for name, tc := range map[string]struct {
		f    *features.Features
		k    Kernel
		want Features
	}{
		"all, on a new kernel":  {full, Kernel{true, true}, Features{true, true}},
		"all, on an old kernel": {full, Kernel{}, Features{}},
		"no rro option":         {&features.Features{MountOptions: []string{"ro"}, Linux: full.Linux}, Kernel{true, true}, Features{UserNamespaces: true}},
		"no idmap":              {&features.Features{MountOptions: full.MountOptions, Linux: &features.Linux{Namespaces: []string{"user"}}}, Kernel{true, true}, Features{RecursiveReadOnlyMounts: true}},
		"no linux section":      {&features.Features{}, Kernel{true, true}, Features{}},
	} {
		if got := featuresOf(tc.f, tc.k); got != tc.want {
			t.Errorf("%s: %+v, want %+v", name, got, tc.want)
		}
	}
}

func TestProbe(t *testing.T) {
	s := testSet(t, Node{})
	// runc answers; crun 1.8 has no features command; kata's shim is not installed.
	problems := s.Probe(context.Background(), FakeIntrospector{"/usr/bin/runc": {MountOptions: []string{"rro"}}}, Kernel{true, true})
	if r, _ := s.Lookup("runc"); r.Features() != (Features{RecursiveReadOnlyMounts: true}) {
		t.Errorf("runc's features = %+v; want what its features document says", r.Features())
	}
	for _, name := range []string{"crun", "kata"} {
		if h, _ := s.Lookup(name); h.Features() != (Features{}) || problems[name] == nil {
			t.Errorf("%s: features %+v, problem %v; want none reported, and why", name, h.Features(), problems[name])
		}
	}
	if problems["runc"] != nil {
		t.Errorf("runc: %v", problems["runc"])
	}
}

// TestSpecVersion: a runtime declaring spec 1.0 (crun 1.8) gets its
// specs labelled so; one declaring a later spec (runc 1.3: 1.2.1) gets
// Berth's spec unchanged.
func TestSpecVersion(t *testing.T) {
	for declared, want := range map[string]string{"1.0.0": "1.0.0", "1.2.1": "", "": ""} {
		if got := specVersionFor(declared); got != want {
			t.Errorf("runtime declaring %q: ociVersion %q, want %q", declared, got, want)
		}
	}
	h := &Handler{Name: "crun", Type: RuncShim, options: &options.Options{}, specVersion: "1.0.0"}
	spec, err := typeurl.MarshalAnyToProto(&specs.Spec{Version: specs.Version, Hostname: "kept"})
	if err != nil {
		t.Fatal(err)
	}
	c := &containers.Container{ID: "c", Spec: spec}
	if err := h.ContainerOpts()(context.Background(), nil, c); err != nil {
		t.Fatal(err)
	}
	v, _ := typeurl.UnmarshalAny(c.Spec)
	if s := v.(*specs.Spec); s.Version != "1.0.0" || s.Hostname != "kept" || c.Runtime.Name != RuncShim {
		t.Errorf("spec version %q, hostname %q, runtime %q; want 1.0.0, the rest kept, runc's shim", s.Version, s.Hostname, c.Runtime.Name)
	}
	if err := h.ContainerOpts()(context.Background(), nil, &containers.Container{ID: "nospec"}); err == nil {
		t.Error("a spec-less container was let through: the runtime option came before the spec")
	}
}
