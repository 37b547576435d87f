package container

import (
	"context"
	"slices"
	"testing"

	"github.com/containerd/containerd/v2/core/containers"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/containerd/containerd/v2/pkg/oci"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/opencontainers/runtime-spec/specs-go"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/berth-cri/berth/internal/host"
	"github.com/berth-cri/berth/sandbox"
)

// TestCgroupNamespaceAndMount: on cgroup v2 an unprivileged container gets
// its own cgroup namespace (it sees only its cgroup); a privileged one
// keeps the host's, and its cgroup2 mount repeats the host superblock's
// nsdelegate and memory_recursiveprot, or starting it would turn them off
// for the whole node. cgroup v1 is as before: no cgroup namespace.
func TestCgroupNamespaceAndMount(t *testing.T) {
	v2 := host.Facts{CgroupV2: true, CgroupSuperblockFlags: []string{"nsdelegate", "memory_recursiveprot"}}
	for _, tc := range []struct {
		name       string
		host       host.Facts
		privileged bool
		wantNS     bool
		wantOpts   []string
	}{
		{"v2 unprivileged", v2, false, true, []string{"nosuid", "noexec", "nodev", "relatime", "ro"}},
		{"v2 privileged", v2, true, false, []string{"nosuid", "noexec", "nodev", "relatime", "rw", "nsdelegate", "memory_recursiveprot"}},
		{"v1 unprivileged", host.Facts{}, false, false, []string{"nosuid", "noexec", "nodev", "relatime", "ro"}},
		{"v1 privileged", host.Facts{}, true, false, []string{"nosuid", "noexec", "nodev", "relatime", "rw"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sc := &runtimeapi.LinuxContainerSecurityContext{Privileged: tc.privileged}
			sb := &sandbox.Sandbox{Metadata: sandbox.Metadata{
				ID: "sb", Dir: t.TempDir(), NetNSPath: "/run/berth/netns/sb",
				Config: &runtimeapi.PodSandboxConfig{Linux: &runtimeapi.LinuxPodSandboxConfig{
					SecurityContext: &runtimeapi.LinuxSandboxSecurityContext{Privileged: tc.privileged}}},
			}}
			cfg := &runtimeapi.ContainerConfig{
				Metadata: &runtimeapi.ContainerMetadata{Name: "c"},
				Command:  []string{"/bin/true"},
				Linux:    &runtimeapi.LinuxContainerConfig{SecurityContext: sc},
			}
			opts, err := specOpts(specParams{ID: "c1", Config: cfg, Sandbox: sb, SandboxPid: 1, Image: ocispec.ImageConfig{}, CgroupsPath: "/berth/c1", Host: tc.host})
			if err != nil {
				t.Fatal(err)
			}
			// The user options read the image's /etc/passwd: from an empty
			// rootfs here, set right after the default spec.
			rootfs := t.TempDir()
			opts = slices.Insert(opts, 1, oci.SpecOpts(func(_ context.Context, _ oci.Client, _ *containers.Container, s *oci.Spec) error {
				s.Root = &specs.Root{Path: rootfs}
				return nil
			}))
			spec := &oci.Spec{}
			ctx := namespaces.WithNamespace(context.Background(), "berth")
			if err := oci.ApplyOpts(ctx, nil, &containers.Container{ID: "c1"}, spec, opts...); err != nil {
				t.Fatal(err)
			}
			hasNS := slices.ContainsFunc(spec.Linux.Namespaces, func(ns specs.LinuxNamespace) bool {
				return ns.Type == specs.CgroupNamespace && ns.Path == ""
			})
			if hasNS != tc.wantNS {
				t.Errorf("own cgroup namespace = %v, want %v (namespaces %+v)", hasNS, tc.wantNS, spec.Linux.Namespaces)
			}
			var got []string
			n := 0
			for _, m := range spec.Mounts {
				if m.Destination == "/sys/fs/cgroup" {
					got, n = m.Options, n+1
				}
			}
			if n != 1 || !slices.Equal(got, tc.wantOpts) {
				t.Errorf("%d cgroup mounts, options %q; want one with %q", n, got, tc.wantOpts)
			}
		})
	}
}
