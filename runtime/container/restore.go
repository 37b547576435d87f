package container

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/containerd/errdefs"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/berth-cri/berth/runtime/checkpoint"
)

// Restore creates a container in a ready sandbox from the checkpoint
// archive at archive: CreateContainer whose image is the archive's
// absolute path, as CRI-O reads it, and RestorePod. The archive is read
// and the sandbox checked before CRIU is asked, so a bad request says so
// whatever the node can do.
func (m *Manager) Restore(ctx context.Context, sandboxID string, cfg *runtimeapi.ContainerConfig, archive string) (string, error) {
	if filepath.Clean(archive) != archive {
		return "", fmt.Errorf("checkpoint archive %q is not a clean absolute path: %w", archive, errdefs.ErrInvalidArgument)
	}
	md, err := checkpoint.Inspect(archive)
	if err != nil {
		return "", fmt.Errorf("restore container %q: %w", cfg.GetMetadata().GetName(), err)
	}
	sb, err := m.cfg.Sandboxes.Store().Get(sandboxID)
	if err != nil {
		return "", err
	}
	if st := sb.Status(); st.State != runtimeapi.PodSandboxState_SANDBOX_READY || st.Pid == 0 {
		return "", fmt.Errorf("sandbox %s is not ready: %w", sb.ID, errdefs.ErrFailedPrecondition)
	}
	if err := m.cfg.CRIU.Check(ctx); err != nil {
		return "", fmt.Errorf("restore container %q from %s: %w", cfg.GetMetadata().GetName(), archive, err)
	}
	return "", fmt.Errorf("restore container %q from %s (checkpoint of %q, image %s): restoring past the CRIU check is not implemented yet: %w",
		cfg.GetMetadata().GetName(), archive, md.Config.Name, md.Config.RootfsImageRef, errdefs.ErrNotImplemented)
}
