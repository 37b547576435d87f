package cri

import (
	"context"
	"fmt"
	"net/netip"
	"strings"

	"github.com/containerd/errdefs"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// UpdateRuntimeConfig receives the node's pod CIDR(s) from kubelet. Berth
// does not rewrite the operator's CNI config from it (containerd's
// conf_template); it validates and records the value, which `crictl info`
// shows, so a mismatch with the CNI config's subnet can be spotted.
func (s *Service) UpdateRuntimeConfig(ctx context.Context, r *runtimeapi.UpdateRuntimeConfigRequest) (*runtimeapi.UpdateRuntimeConfigResponse, error) {
	cidr := r.GetRuntimeConfig().GetNetworkConfig().GetPodCidr()
	if cidr == "" {
		return &runtimeapi.UpdateRuntimeConfigResponse{}, nil
	}
	for _, c := range strings.Split(cidr, ",") {
		if _, err := netip.ParsePrefix(strings.TrimSpace(c)); err != nil {
			return nil, fmt.Errorf("pod CIDR %q: %v: %w", cidr, err, errdefs.ErrInvalidArgument)
		}
	}
	if old := s.podCIDR.Swap(&cidr); old == nil || *old != cidr {
		s.logger(ctx).Info("pod CIDR set by kubelet", "podCIDR", cidr)
	}
	return &runtimeapi.UpdateRuntimeConfigResponse{}, nil
}
