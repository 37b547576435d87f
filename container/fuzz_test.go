package container

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/containerd/containerd/v2/core/containers"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/containerd/containerd/v2/pkg/oci"
	"github.com/containerd/errdefs"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"google.golang.org/protobuf/proto"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/berth-cri/berth/internal/host"
	"github.com/berth-cri/berth/sandbox"
)

func seedContainerConfigs() []*runtimeapi.ContainerConfig {
	uid := &runtimeapi.Int64Value{Value: 1000}
	return []*runtimeapi.ContainerConfig{
		{Metadata: &runtimeapi.ContainerMetadata{Name: "app"}, Image: &runtimeapi.ImageSpec{Image: "busybox"}, Command: []string{"sleep", "1"}, LogPath: "app/0.log"},
		{
			Metadata: &runtimeapi.ContainerMetadata{Name: "web", Attempt: 3},
			Image:    &runtimeapi.ImageSpec{Image: "sha256:53bcfc67a8f94b7fc000ba8d42deb70d8406affb7d05bd45f430ca0249130049"},
			Args:     []string{"-c", "echo hi"}, WorkingDir: "/srv",
			Envs:   []*runtimeapi.KeyValue{{Key: "A", Value: []byte("1")}},
			Mounts: []*runtimeapi.Mount{{ContainerPath: "/data", HostPath: "/var/lib/kubelet/pods/x/volumes/d", Readonly: true, Propagation: runtimeapi.MountPropagation_PROPAGATION_HOST_TO_CONTAINER}},
			Linux: &runtimeapi.LinuxContainerConfig{
				Resources: &runtimeapi.LinuxContainerResources{CpuShares: 512, CpuQuota: 20000, CpuPeriod: 100000, MemoryLimitInBytes: 1 << 26, OomScoreAdj: -997,
					HugepageLimits: []*runtimeapi.HugepageLimit{{PageSize: "2MB"}}},
				SecurityContext: &runtimeapi.LinuxContainerSecurityContext{
					RunAsUser: uid, RunAsGroup: uid, SupplementalGroups: []int64{5},
					Capabilities:     &runtimeapi.Capability{AddCapabilities: []string{"NET_ADMIN"}, DropCapabilities: []string{"ALL"}},
					NamespaceOptions: &runtimeapi.NamespaceOption{Pid: runtimeapi.NamespaceMode_CONTAINER},
					MaskedPaths:      []string{"/proc/kcore"}, ReadonlyRootfs: true,
				},
			},
		},
	}
}

// untouchedHostPath stands in for ensureHostPath where the node's file
// system must not change.
func untouchedHostPath(src string) (string, error) { return filepath.Clean(src), nil }

// FuzzContainerConfig feeds arbitrary ContainerConfigs through what
// CreateContainer does with a request before it touches the node:
// validation, the log path, process arguments, mounts, resources and the
// spec options. Nothing may panic; a rejected request is InvalidArgument.
func FuzzContainerConfig(f *testing.F) {
	for _, c := range seedContainerConfigs() {
		data, err := proto.Marshal(c)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	// The pod's files exist, so that applying the mounts makes nothing.
	sbDir := f.TempDir()
	for _, name := range []string{sandbox.HostnameFile, sandbox.HostsFile, sandbox.ResolvFile, "shm"} {
		if err := os.WriteFile(filepath.Join(sbDir, name), nil, 0o644); err != nil {
			f.Fatal(err)
		}
	}
	ctx := namespaces.WithNamespace(context.Background(), "berth")
	sb := &sandbox.Sandbox{Metadata: sandbox.Metadata{
		ID: "sandbox", Dir: sbDir, NetNSPath: "/run/berth/netns/sandbox", ShmPath: filepath.Join(sbDir, "shm"),
		Config: &runtimeapi.PodSandboxConfig{Metadata: &runtimeapi.PodSandboxMetadata{Name: "p", Namespace: "n", Uid: "u"}, LogDirectory: "/var/log/pods/n_p_u"},
	}}
	img := ocispec.ImageConfig{Entrypoint: []string{"/bin/sh"}, Env: []string{"PATH=/bin"}, User: "1000:1000"}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg := &runtimeapi.ContainerConfig{}
		if err := proto.Unmarshal(data, cfg); err != nil {
			return
		}
		if err := validateConfig(cfg); err != nil {
			if !errdefs.IsInvalidArgument(err) {
				t.Fatalf("validation error is not InvalidArgument: %v", err)
			}
			return
		}
		if _, err := logPath(sb.Config.LogDirectory, cfg.GetLogPath()); err != nil && !errdefs.IsInvalidArgument(err) {
			t.Fatalf("log path error is not InvalidArgument: %v", err)
		}
		_, _ = processArgs(cfg, img)
		for _, m := range cfg.GetMounts() {
			// Fuzzed host paths stay untouched: ensureHostPath would
			// create them on the machine running the test.
			_, _, _ = bindMount(m, untouchedHostPath)
		}
		_ = linuxResources(cfg.GetLinux().GetResources(), host.Facts{})
		_ = linuxResources(cfg.GetLinux().GetResources(), host.Facts{CgroupV2: true, Swap: true, Hugetlb: true})
		// The spec options are applied too, as CreateContainer does, but
		// without the fuzzed mounts and devices: those were checked above,
		// and applying them would create host paths on this machine.
		applied := proto.Clone(cfg).(*runtimeapi.ContainerConfig)
		applied.Mounts, applied.Devices = nil, nil
		opts, err := specOpts(specParams{ID: "fuzz", Config: applied, Sandbox: sb, SandboxPid: 1, Image: img, CgroupsPath: "/berth/fuzz"})
		if err != nil {
			if !errdefs.IsInvalidArgument(err) {
				t.Fatalf("spec options error is not InvalidArgument: %v", err)
			}
			return
		}
		_, _ = oci.GenerateSpec(ctx, nil, &containers.Container{ID: "fuzz"}, opts...)
	})
}
