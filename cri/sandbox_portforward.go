package cri

import (
	"context"
	"fmt"

	"github.com/containerd/errdefs"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// PortForward returns a single-use URL on the streaming server that
// forwards connections to ports of a ready pod (kubectl port-forward).
func (s *Service) PortForward(ctx context.Context, r *runtimeapi.PortForwardRequest) (*runtimeapi.PortForwardResponse, error) {
	if s.streaming == nil {
		return nil, fmt.Errorf("no streaming server: %w", errdefs.ErrNotImplemented)
	}
	sb, err := s.sandboxes.Store().Get(r.GetPodSandboxId())
	if err != nil {
		return nil, err
	}
	if st := sb.Status(); st.State != runtimeapi.PodSandboxState_SANDBOX_READY {
		return nil, fmt.Errorf("sandbox %s is not ready: %w", sb.ID, errdefs.ErrFailedPrecondition)
	}
	return s.streaming.GetPortForward(r)
}
