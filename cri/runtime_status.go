package cri

import (
	"context"
	"fmt"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/berth-cri/berth/internal/handlers"
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
	resp := &runtimeapi.StatusResponse{
		Status: &runtimeapi.RuntimeStatus{Conditions: []*runtimeapi.RuntimeCondition{runtimeCond, networkCond}},
		// Containers get their image's groups plus the CRI ones (Merge) or
		// only the CRI ones (Strict), and report them in ContainerStatus.
		Features:        &runtimeapi.RuntimeFeatures{SupplementalGroupsPolicy: true},
		RuntimeHandlers: s.runtimeHandlers(),
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

// runtimeHandlers lists every configured handler, and the default one
// again as "" (kubelet looks up a pod without a RuntimeClass so), with the
// features probed at start.
func (s *Service) runtimeHandlers() []*runtimeapi.RuntimeHandler {
	features := func(h *handlers.Handler) *runtimeapi.RuntimeHandlerFeatures {
		f := h.Features()
		return &runtimeapi.RuntimeHandlerFeatures{RecursiveReadOnlyMounts: f.RecursiveReadOnlyMounts, UserNamespaces: f.UserNamespaces}
	}
	out := []*runtimeapi.RuntimeHandler{{Name: "", Features: features(s.handlers.Default())}}
	for _, h := range s.handlers.All() {
		out = append(out, &runtimeapi.RuntimeHandler{Name: h.Name, Features: features(h)})
	}
	return out
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
