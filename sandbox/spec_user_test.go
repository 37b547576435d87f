package sandbox

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/containerd/containerd/v2/core/containers"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/containerd/containerd/v2/pkg/oci"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// TestPauseSpecOfAPodWithRunAsUserReadsNoRootfs: the pause's spec is built
// while its snapshot is still being prepared, so a pod-level runAsUser must
// not make it read the rootfs's /etc/passwd (which failed every such pod
// with "snapshot does not exist"). Here there is no containerd client and
// no snapshot at all: reading either fails the test.
func TestPauseSpecOfAPodWithRunAsUserReadsNoRootfs(t *testing.T) {
	for _, tc := range []struct {
		name          string
		user, group   *runtimeapi.Int64Value
		wantUID, wGID uint32
	}{
		{"user only", &runtimeapi.Int64Value{Value: 1000}, nil, 1000, 0},
		{"user and group", &runtimeapi.Int64Value{Value: 1000}, &runtimeapi.Int64Value{Value: 3000}, 1000, 3000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := NewManager(Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			cfg := validPod()
			cfg.Linux = &runtimeapi.LinuxPodSandboxConfig{SecurityContext: &runtimeapi.LinuxSandboxSecurityContext{RunAsUser: tc.user, RunAsGroup: tc.group}}
			md := &Metadata{ID: "sb1", Config: cfg, CgroupsPath: "/berth/sb1"}
			pause := &pauseImage{config: ocispec.ImageConfig{Entrypoint: []string{"/pause"}}}
			spec := &oci.Spec{}
			ctx := namespaces.WithNamespace(context.Background(), "berth")
			if err := oci.ApplyOpts(ctx, nil, &containers.Container{ID: md.ID, SnapshotKey: md.ID, Snapshotter: snapshotter}, spec, m.pauseSpecOpts(md, pause)...); err != nil {
				t.Fatalf("pause spec: %v", err)
			}
			if u := spec.Process.User; u.UID != tc.wantUID || u.GID != tc.wGID {
				t.Errorf("pause runs as %d:%d, want %d:%d", u.UID, u.GID, tc.wantUID, tc.wGID)
			}
		})
	}
}
