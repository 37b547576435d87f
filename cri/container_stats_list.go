package cri

import (
	"context"

	"google.golang.org/grpc"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/berth-cri/berth/container"
)

// statsStreamBatch is how many entries go in one Stream*Stats message.
const statsStreamBatch = 100

// ListContainerStats measures every container the filter selects (all
// when there is none): kubelet's summary API and eviction read it.
func (s *Service) ListContainerStats(ctx context.Context, r *runtimeapi.ListContainerStatsRequest) (*runtimeapi.ListContainerStatsResponse, error) {
	if s.stats == nil {
		return nil, errNoStats
	}
	return &runtimeapi.ListContainerStatsResponse{Stats: s.stats.ListContainerStats(ctx, s.statsContainers(r.GetFilter()))}, nil
}

// StreamContainerStats is ListContainerStats in batches (KEP-5825).
func (s *Service) StreamContainerStats(r *runtimeapi.StreamContainerStatsRequest, stream grpc.ServerStreamingServer[runtimeapi.StreamContainerStatsResponse]) error {
	if s.stats == nil {
		return errNoStats
	}
	all := s.stats.ListContainerStats(stream.Context(), s.statsContainers(r.GetFilter()))
	for start := 0; start < len(all); start += statsStreamBatch {
		end := min(start+statsStreamBatch, len(all))
		if err := stream.Send(&runtimeapi.StreamContainerStatsResponse{ContainerStats: all[start:end]}); err != nil {
			return err
		}
	}
	return nil
}

// statsContainers selects containers by ID (or unique prefix), sandbox
// and labels. An unknown ID selects nothing: a list is not an error.
func (s *Service) statsContainers(f *runtimeapi.ContainerStatsFilter) []*container.Container {
	var ctrs []*container.Container
	switch {
	case f.GetId() != "":
		c, err := s.containers.Store().Get(f.GetId())
		if err != nil {
			return nil
		}
		ctrs = []*container.Container{c}
	case f.GetPodSandboxId() != "":
		sb, err := s.sandboxes.Store().Get(f.GetPodSandboxId())
		if err != nil {
			return nil
		}
		ctrs = s.containers.Store().ListSandbox(sb.ID)
	default:
		ctrs = s.containers.Store().List()
	}
	out := ctrs[:0]
	for _, c := range ctrs {
		if f.GetPodSandboxId() != "" && !hasPrefix(c.SandboxID, f.GetPodSandboxId()) {
			continue
		}
		if !labelsMatch(c.Config.GetLabels(), f.GetLabelSelector()) {
			continue
		}
		out = append(out, c)
	}
	return out
}

func hasPrefix(id, prefix string) bool { return len(id) >= len(prefix) && id[:len(prefix)] == prefix }
