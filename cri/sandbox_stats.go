package cri

import (
	"context"
	"fmt"

	"github.com/containerd/errdefs"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// PodSandboxStats measures one ready pod. kubelet (with
// PodAndContainerStatsFromCRI) first calls it with an empty ID to learn
// whether the runtime has pod stats: that answers InvalidArgument, which
// says yes; only Unimplemented would send kubelet to cAdvisor.
func (s *Service) PodSandboxStats(ctx context.Context, r *runtimeapi.PodSandboxStatsRequest) (*runtimeapi.PodSandboxStatsResponse, error) {
	if s.stats == nil {
		return nil, errNoStats
	}
	sb, err := s.sandboxes.Store().Get(r.GetPodSandboxId())
	if err != nil {
		return nil, err
	}
	st, err := s.stats.PodSandboxStats(ctx, sb)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", err, errdefs.ErrFailedPrecondition)
	}
	return &runtimeapi.PodSandboxStatsResponse{Stats: st}, nil
}
