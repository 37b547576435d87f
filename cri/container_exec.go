package cri

import (
	"context"
	"fmt"

	"github.com/containerd/errdefs"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Exec returns a single-use URL on the streaming server where the client
// runs the command (kubectl exec through kubelet). The container must be
// running now; the session checks again when it starts.
func (s *Service) Exec(ctx context.Context, r *runtimeapi.ExecRequest) (*runtimeapi.ExecResponse, error) {
	if s.streaming == nil {
		return nil, fmt.Errorf("no streaming server: %w", errdefs.ErrNotImplemented)
	}
	if err := s.checkRunning(r.GetContainerId()); err != nil {
		return nil, err
	}
	return s.streaming.GetExec(r)
}

// checkRunning answers NotFound for an unknown container and
// FailedPrecondition for one that is not running.
func (s *Service) checkRunning(id string) error {
	c, err := s.containers.Store().Get(id)
	if err != nil {
		return err
	}
	if st := c.Status(); st.State != runtimeapi.ContainerState_CONTAINER_RUNNING {
		return fmt.Errorf("container %s is %s, not running: %w", c.ID, st.State, errdefs.ErrFailedPrecondition)
	}
	return nil
}
