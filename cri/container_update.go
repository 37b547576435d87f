package cri

import (
	"context"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// UpdateContainerResources changes a container's limits in its cgroup
// (when it runs) and in its spec.
func (s *Service) UpdateContainerResources(ctx context.Context, r *runtimeapi.UpdateContainerResourcesRequest) (*runtimeapi.UpdateContainerResourcesResponse, error) {
	if err := s.containers.UpdateResources(ctx, r.GetContainerId(), r.GetLinux()); err != nil {
		return nil, err
	}
	return &runtimeapi.UpdateContainerResourcesResponse{}, nil
}

// UpdatePodSandboxResources is kubelet telling the runtime about a resized
// pod. The CRI calls it "after the Kubelet reconfigures the pod-level
// cgroups": kubelet owns the pod cgroup (with the systemd driver, the pod
// slice's properties, set through systemd) and resizes each container
// through UpdateContainerResources, so there is nothing left to apply, as
// in containerd, which only tells NRI. Writing the slice here would race
// kubelet and systemd over a cgroup neither expects Berth to touch. The
// sandbox must exist, and the call is accepted.
func (s *Service) UpdatePodSandboxResources(ctx context.Context, r *runtimeapi.UpdatePodSandboxResourcesRequest) (*runtimeapi.UpdatePodSandboxResourcesResponse, error) {
	if _, err := s.sandboxes.Store().Get(r.GetPodSandboxId()); err != nil {
		return nil, err
	}
	return &runtimeapi.UpdatePodSandboxResourcesResponse{}, nil
}
