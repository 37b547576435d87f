package cri

import (
	"context"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/berth-cri/berth/runtime/stats"
)

// ListMetricDescriptors describes the metrics ListPodSandboxMetrics
// reports, under cAdvisor's names: kubelet (PodAndContainerStatsFromCRI)
// asks once, when it sets up /metrics/cadvisor.
func (s *Service) ListMetricDescriptors(context.Context, *runtimeapi.ListMetricDescriptorsRequest) (*runtimeapi.ListMetricDescriptorsResponse, error) {
	if s.stats == nil {
		return nil, errNoStats
	}
	return &runtimeapi.ListMetricDescriptorsResponse{Descriptors: stats.Descriptors()}, nil
}
