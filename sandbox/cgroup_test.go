package sandbox

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/containerd/containerd/v2/core/containers"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/containerd/containerd/v2/pkg/oci"
	"github.com/containerd/errdefs"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/berth-cri/berth/internal/cgroup"
)

// TestCgroupDriverReachesThePauseSpec: with the systemd driver runc must
// get the slice:prefix:name form, or the pod's pause lands outside
// kubepods.slice; with cgroupfs nothing changes. (runc's SystemdCgroup
// option follows the same driver: cmd/berthd/app's handlers test.)
func TestCgroupDriverReachesThePauseSpec(t *testing.T) {
	for _, tc := range []struct {
		driver   cgroup.Driver
		parent   string
		wantPath string
	}{
		{cgroup.Cgroupfs, "/kubepods/burstable/pod1", "/kubepods/burstable/pod1/sb1"},
		{cgroup.Cgroupfs, "", "/berth/sb1"},
		{cgroup.Systemd, "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1.slice", "kubepods-burstable-pod1.slice:berth:sb1"},
		{cgroup.Systemd, "", "system.slice:berth:sb1"},
	} {
		t.Run(tc.driver.String()+"_"+tc.parent, func(t *testing.T) {
			m := NewManager(Config{CgroupDriver: tc.driver, Logger: slog.Default()})
			var err error
			cfg := &runtimeapi.PodSandboxConfig{Linux: &runtimeapi.LinuxPodSandboxConfig{CgroupParent: tc.parent}}
			md := &Metadata{ID: "sb1", Config: cfg}
			if md.CgroupsPath, err = tc.driver.Path(tc.parent, md.ID); err != nil {
				t.Fatal(err)
			}
			pause := &pauseImage{config: ocispec.ImageConfig{Entrypoint: []string{"/pause"}}}
			spec := &oci.Spec{}
			ctx := namespaces.WithNamespace(context.Background(), "berth")
			if err := oci.ApplyOpts(ctx, nil, &containers.Container{ID: md.ID}, spec, m.pauseSpecOpts(md, pause)...); err != nil {
				t.Fatal(err)
			}
			if spec.Linux.CgroupsPath != tc.wantPath {
				t.Errorf("pause cgroupsPath = %q, want %q", spec.Linux.CgroupsPath, tc.wantPath)
			}
		})
	}
}

// TestRecordsWithoutCgroupsPathKeepTheirCgroupfsPath: a sandbox recorded
// before Berth stored the path is found where it was made.
func TestRecordsWithoutCgroupsPathKeepTheirCgroupfsPath(t *testing.T) {
	md := &Metadata{ID: "sb1", Config: &runtimeapi.PodSandboxConfig{Linux: &runtimeapi.LinuxPodSandboxConfig{CgroupParent: "/kubepods/pod1"}}}
	if got := md.PauseCgroupsPath(); got != "/kubepods/pod1/sb1" {
		t.Errorf("PauseCgroupsPath() = %q, want /kubepods/pod1/sb1", got)
	}
}

func TestRunRefusesAParentThatIsNoSliceUnderSystemd(t *testing.T) {
	m := NewManager(Config{CgroupDriver: cgroup.Systemd, Logger: slog.Default()})
	cfg := &runtimeapi.PodSandboxConfig{
		Metadata: &runtimeapi.PodSandboxMetadata{Name: "p", Namespace: "ns", Uid: "u"},
		Linux:    &runtimeapi.LinuxPodSandboxConfig{CgroupParent: "/kubepods/burstable/pod1"},
	}
	_, err := m.Run(context.Background(), cfg, "")
	if !errdefs.IsInvalidArgument(err) || !strings.Contains(err.Error(), "systemd") {
		t.Errorf("Run with a cgroupfs parent under the systemd driver: %v, want an error naming the driver", err)
	}
}
