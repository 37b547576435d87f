package cri

import (
	"context"

	"google.golang.org/grpc"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/berth-cri/berth/sandbox"
)

// ListPodSandboxStats measures the ready pods the filter selects.
func (s *Service) ListPodSandboxStats(ctx context.Context, r *runtimeapi.ListPodSandboxStatsRequest) (*runtimeapi.ListPodSandboxStatsResponse, error) {
	if s.stats == nil {
		return nil, errNoStats
	}
	return &runtimeapi.ListPodSandboxStatsResponse{Stats: s.podStats(ctx, r.GetFilter())}, nil
}

// StreamPodSandboxStats is ListPodSandboxStats in batches (KEP-5825).
func (s *Service) StreamPodSandboxStats(r *runtimeapi.StreamPodSandboxStatsRequest, stream grpc.ServerStreamingServer[runtimeapi.StreamPodSandboxStatsResponse]) error {
	if s.stats == nil {
		return errNoStats
	}
	all := s.podStats(stream.Context(), r.GetFilter())
	for start := 0; start < len(all); start += statsStreamBatch {
		end := min(start+statsStreamBatch, len(all))
		if err := stream.Send(&runtimeapi.StreamPodSandboxStatsResponse{PodSandboxStats: all[start:end]}); err != nil {
			return err
		}
	}
	return nil
}

// podStats measures the selected pods; a pod that is not ready (or went
// away meanwhile) is left out.
func (s *Service) podStats(ctx context.Context, f *runtimeapi.PodSandboxStatsFilter) []*runtimeapi.PodSandboxStats {
	var sbs []*sandbox.Sandbox
	if f.GetId() != "" {
		sb, err := s.sandboxes.Store().Get(f.GetId())
		if err != nil {
			return nil
		}
		sbs = []*sandbox.Sandbox{sb}
	} else {
		sbs = s.sandboxes.Store().List()
	}
	out := make([]*runtimeapi.PodSandboxStats, 0, len(sbs))
	for _, sb := range sbs {
		if sb.Status().State != runtimeapi.PodSandboxState_SANDBOX_READY || !labelsMatch(sb.Config.GetLabels(), f.GetLabelSelector()) {
			continue
		}
		if st, err := s.stats.PodSandboxStats(ctx, sb); err == nil {
			out = append(out, st)
		}
	}
	return out
}
