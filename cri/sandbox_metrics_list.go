package cri

import (
	"context"

	"google.golang.org/grpc"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// ListPodSandboxMetrics measures every ready pod: its network and its
// running containers, in the metrics ListMetricDescriptors describes.
// Readings are at most a second old, so kubelet's scrapes cost little.
func (s *Service) ListPodSandboxMetrics(ctx context.Context, _ *runtimeapi.ListPodSandboxMetricsRequest) (*runtimeapi.ListPodSandboxMetricsResponse, error) {
	if s.stats == nil {
		return nil, errNoStats
	}
	return &runtimeapi.ListPodSandboxMetricsResponse{PodMetrics: s.podMetrics(ctx)}, nil
}

// StreamPodSandboxMetrics is ListPodSandboxMetrics in batches (KEP-5825).
func (s *Service) StreamPodSandboxMetrics(_ *runtimeapi.StreamPodSandboxMetricsRequest, stream grpc.ServerStreamingServer[runtimeapi.StreamPodSandboxMetricsResponse]) error {
	if s.stats == nil {
		return errNoStats
	}
	all := s.podMetrics(stream.Context())
	for start := 0; start < len(all); start += statsStreamBatch {
		end := min(start+statsStreamBatch, len(all))
		if err := stream.Send(&runtimeapi.StreamPodSandboxMetricsResponse{PodSandboxMetrics: all[start:end]}); err != nil {
			return err
		}
	}
	return nil
}

// podMetrics measures the ready pods.
func (s *Service) podMetrics(ctx context.Context) []*runtimeapi.PodSandboxMetrics {
	return s.stats.ListPodSandboxMetrics(ctx, s.sandboxes.Store().List())
}
