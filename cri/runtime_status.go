package cri

import (
	"context"
	"fmt"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/berth-cri/berth/host"
)

// containerdCheckTimeout bounds the health check: kubelet polls Status
// every 5 s, and a hung containerd must show as not ready, not hang Status.
const containerdCheckTimeout = 2 * time.Second

// Status reports RuntimeReady (start-up done and containerd answering) and
// NetworkReady (a usable CNI config). kubelet stops syncing pods on the
// first, and refuses pod-network pods on the second.
func (s *Service) Status(ctx context.Context, r *runtimeapi.StatusRequest) (*runtimeapi.StatusResponse, error) {
	runtimeCond := &runtimeapi.RuntimeCondition{Type: runtimeapi.RuntimeReady, Status: true}
	if reason, msg := s.runtimeProblem(ctx); reason != "" {
		runtimeCond.Status, runtimeCond.Reason, runtimeCond.Message = false, reason, msg
	}
	networkCond := &runtimeapi.RuntimeCondition{Type: runtimeapi.NetworkReady, Status: true}
	if err := s.network.Ready(); err != nil {
		networkCond.Status, networkCond.Reason, networkCond.Message = false, "NetworkPluginNotReady", err.Error()
	}
	userns := host.UserNamespacesSupported()
	resp := &runtimeapi.StatusResponse{
		Status: &runtimeapi.RuntimeStatus{Conditions: []*runtimeapi.RuntimeCondition{runtimeCond, networkCond}},
		// Containers get their image's groups plus the CRI ones (Merge) or
		// only the CRI ones (Strict), and report them in ContainerStatus.
		Features: &runtimeapi.RuntimeFeatures{SupplementalGroupsPolicy: true},
		RuntimeHandlers: []*runtimeapi.RuntimeHandler{
			// The default handler ("") is runc. Recursive read-only mounts
			// need mount_setattr (Linux 5.12) and runc >= 1.1. Pod user
			// namespaces need idmapped overlayfs layers (Linux 5.19) and
			// idmapped bind mounts (runc >= 1.2, which Berth ships).
			{Name: "", Features: &runtimeapi.RuntimeHandlerFeatures{RecursiveReadOnlyMounts: true, UserNamespaces: userns}},
			{Name: "runc", Features: &runtimeapi.RuntimeHandlerFeatures{RecursiveReadOnlyMounts: true, UserNamespaces: userns}},
		},
	}
	if r.GetVerbose() {
		resp.Info = make(map[string]string, len(s.statusInfo)+1)
		for k, v := range s.statusInfo {
			resp.Info[k] = v
		}
		if cidr := s.podCIDR.Load(); cidr != nil {
			resp.Info["podCIDR"] = *cidr
		}
	}
	return resp, nil
}

func (s *Service) runtimeProblem(ctx context.Context) (reason, message string) {
	if !s.ready.Load() {
		return "Starting", "berthd is starting: containerd and state recovery are not ready yet"
	}
	ctx, cancel := context.WithTimeout(ctx, containerdCheckTimeout)
	defer cancel()
	serving, err := s.containerd.IsServing(ctx)
	switch {
	case err != nil:
		return "ContainerdUnavailable", fmt.Sprintf("containerd does not answer: %v", err)
	case !serving:
		return "ContainerdNotServing", "containerd's health check reports it is not serving"
	}
	return "", ""
}
