package nri

import (
	"slices"
	"testing"

	"github.com/containerd/errdefs"
	"github.com/containerd/nri/pkg/api"
	nrigen "github.com/containerd/nri/pkg/runtime-tools/generate"
	rspec "github.com/opencontainers/runtime-spec/specs-go"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

func baseSpec() *rspec.Spec {
	return &rspec.Spec{
		Process:     &rspec.Process{Args: []string{"sleep", "inf"}, Env: []string{"PATH=/bin", "KEEP=1"}},
		Annotations: map[string]string{"io.kubernetes.cri.container-name": "app"},
		Mounts:      []rspec.Mount{{Destination: "/data", Source: "/old", Type: "bind"}},
		Linux:       &rspec.Linux{Namespaces: []rspec.LinuxNamespace{{Type: rspec.NetworkNamespace, Path: "/run/netns/x"}}},
	}
}

func TestAdjustmentsReachTheSpec(t *testing.T) {
	limit := int64(64 << 20)
	for _, tc := range []struct {
		name   string
		adjust func(*api.ContainerAdjustment)
		check  func(*testing.T, *rspec.Spec)
	}{
		{"env is added and replaced", func(a *api.ContainerAdjustment) {
			a.AddEnv("ADDED", "yes")
			a.AddEnv("PATH", "/usr/bin")
		}, func(t *testing.T, s *rspec.Spec) {
			want := []string{"PATH=/usr/bin", "KEEP=1", "ADDED=yes"}
			if !slices.Equal(s.Process.Env, want) {
				t.Errorf("env = %v, want %v", s.Process.Env, want)
			}
		}},
		{"env is removed", func(a *api.ContainerAdjustment) { a.RemoveEnv("KEEP") }, func(t *testing.T, s *rspec.Spec) {
			if slices.Contains(s.Process.Env, "KEEP=1") {
				t.Errorf("env = %v still has KEEP", s.Process.Env)
			}
		}},
		{"annotation is added", func(a *api.ContainerAdjustment) { a.AddAnnotation("example.com/added", "1") }, func(t *testing.T, s *rspec.Spec) {
			if s.Annotations["example.com/added"] != "1" || s.Annotations["io.kubernetes.cri.container-name"] != "app" {
				t.Errorf("annotations = %v", s.Annotations)
			}
		}},
		{"a mount replaces one at the same destination", func(a *api.ContainerAdjustment) {
			a.AddMount(&api.Mount{Destination: "/data", Source: "/new", Type: "bind", Options: []string{"rbind", "ro"}})
		}, func(t *testing.T, s *rspec.Spec) {
			if len(s.Mounts) != 1 || s.Mounts[0].Source != "/new" {
				t.Errorf("mounts = %+v", s.Mounts)
			}
		}},
		{"memory limit", func(a *api.ContainerAdjustment) { a.SetLinuxMemoryLimit(limit) }, func(t *testing.T, s *rspec.Spec) {
			if s.Linux.Resources == nil || s.Linux.Resources.Memory == nil || *s.Linux.Resources.Memory.Limit != limit {
				t.Errorf("resources = %+v", s.Linux.Resources)
			}
		}},
		{"args", func(a *api.ContainerAdjustment) { a.SetArgs([]string{"true"}) }, func(t *testing.T, s *rspec.Spec) {
			if !slices.Equal(s.Process.Args, []string{"true"}) {
				t.Errorf("args = %v", s.Process.Args)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			adj := &api.ContainerAdjustment{}
			tc.adjust(adj)
			spec := baseSpec()
			if err := nrigen.SpecGenerator(&specEditor{spec: spec}).Adjust(adj); err != nil {
				t.Fatal(err)
			}
			tc.check(t, spec)
		})
	}
}

func TestAdjustmentsBerthCannotHonourAreRefused(t *testing.T) {
	for name, adjust := range map[string]func(*api.ContainerAdjustment){
		"block I/O class": func(a *api.ContainerAdjustment) { a.SetLinuxBlockIOClass("slow") },
		"RDT class":       func(a *api.ContainerAdjustment) { a.SetLinuxRDTClass("gold") },
		"CDI device":      func(a *api.ContainerAdjustment) { a.AddCDIDevice(&api.CDIDevice{Name: "vendor.com/gpu=0"}) },
	} {
		t.Run(name, func(t *testing.T) {
			adj := &api.ContainerAdjustment{}
			adjust(adj)
			if err := adjustSpec(baseSpec(), adj); !errdefs.IsNotImplemented(err) {
				t.Fatalf("err = %v, want NotImplemented", err)
			}
		})
	}
	if err := adjustSpec(baseSpec(), nil); err != nil {
		t.Fatalf("no adjustment: %v", err)
	}
}

func TestNamespaceEdits(t *testing.T) {
	g := &specEditor{spec: baseSpec()}
	if err := g.AddOrReplaceLinuxNamespace("net", "/run/netns/y"); err != nil {
		t.Fatal(err)
	}
	if ns := g.spec.Linux.Namespaces; len(ns) != 1 || ns[0].Path != "/run/netns/y" {
		t.Errorf("namespaces = %+v, want the network one replaced", ns)
	}
	if err := g.RemoveLinuxNamespace("network"); err != nil || len(g.spec.Linux.Namespaces) != 0 {
		t.Errorf("remove: %v, %+v", err, g.spec.Linux.Namespaces)
	}
	if err := g.AddOrReplaceLinuxNamespace("bogus", ""); err == nil {
		t.Error("an unknown namespace type was accepted")
	}
}

func TestResourcesRoundTrip(t *testing.T) {
	in := &runtimeapi.LinuxContainerResources{
		CpuShares: 512, CpuQuota: 50000, CpuPeriod: 100000, MemoryLimitInBytes: 1 << 30,
		CpusetCpus: "0-1", HugepageLimits: []*runtimeapi.HugepageLimit{{PageSize: "2MB", Limit: 1 << 21}},
	}
	out := toCRIResources(fromCRIResources(in))
	if out.CpuShares != 512 || out.CpuQuota != 50000 || out.CpuPeriod != 100000 || out.MemoryLimitInBytes != 1<<30 ||
		out.CpusetCpus != "0-1" || len(out.HugepageLimits) != 1 || out.HugepageLimits[0].Limit != 1<<21 {
		t.Errorf("round trip changed resources: %+v", out)
	}
	if fromCRIResources(nil) != nil || toCRIResources(nil) != nil {
		t.Error("nil resources must stay nil")
	}
}
