package cri

import (
	"context"
	"fmt"

	"github.com/containerd/errdefs"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Attach returns a single-use URL on the streaming server where the client
// attaches to a running container's stdin and output.
func (s *Service) Attach(ctx context.Context, r *runtimeapi.AttachRequest) (*runtimeapi.AttachResponse, error) {
	if s.streaming == nil {
		return nil, fmt.Errorf("no streaming server: %w", errdefs.ErrNotImplemented)
	}
	if err := s.checkRunning(r.GetContainerId()); err != nil {
		return nil, err
	}
	return s.streaming.GetAttach(r)
}
