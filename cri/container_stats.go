package cri

import (
	"context"
	"fmt"

	"github.com/containerd/errdefs"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// errNoStats answers the stats RPCs of a Service built without a
// collector (unit tests).
var errNoStats = fmt.Errorf("no stats collector: %w", errdefs.ErrNotImplemented)

// ContainerStats measures one container: CPU, memory and its writable
// layer. Measurements are at most a second old.
func (s *Service) ContainerStats(ctx context.Context, r *runtimeapi.ContainerStatsRequest) (*runtimeapi.ContainerStatsResponse, error) {
	if s.stats == nil {
		return nil, errNoStats
	}
	c, err := s.containers.Store().Get(r.GetContainerId())
	if err != nil {
		return nil, err
	}
	return &runtimeapi.ContainerStatsResponse{Stats: s.stats.ContainerStats(ctx, c)}, nil
}
