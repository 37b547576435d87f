package cri

import (
	"context"
	"encoding/json"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/berth-cri/berth/sandbox"
)

// PodSandboxStatus answers from memory. kubelet relies on the IP, the
// echoed namespace options and created_at to recognise the sandbox as
// current; a wrong one makes it recreate the pod forever.
func (s *Service) PodSandboxStatus(ctx context.Context, r *runtimeapi.PodSandboxStatusRequest) (*runtimeapi.PodSandboxStatusResponse, error) {
	sb, err := s.sandboxes.Store().Get(r.GetPodSandboxId())
	if err != nil {
		return nil, err
	}
	st := sb.Status()
	resp := &runtimeapi.PodSandboxStatusResponse{Status: sandboxStatus(sb, st)}
	if r.GetVerbose() {
		resp.Info = sandboxInfo(sb, st)
	}
	return resp, nil
}

func sandboxStatus(sb *sandbox.Sandbox, st sandbox.Status) *runtimeapi.PodSandboxStatus {
	cfg := sb.Config
	out := &runtimeapi.PodSandboxStatus{
		Id:             sb.ID,
		Metadata:       cfg.GetMetadata(),
		State:          st.State,
		CreatedAt:      sb.CreatedAt.UnixNano(),
		Network:        &runtimeapi.PodSandboxNetworkStatus{},
		Labels:         cfg.GetLabels(),
		Annotations:    cfg.GetAnnotations(),
		RuntimeHandler: sb.RuntimeHandler,
		Linux: &runtimeapi.LinuxPodSandboxStatus{Namespaces: &runtimeapi.Namespace{
			Options: namespaceOptions(cfg.GetLinux().GetSecurityContext().GetNamespaceOptions()),
		}},
	}
	for i, ip := range st.IPs {
		if i == 0 {
			out.Network.Ip = ip.String()
			continue
		}
		out.Network.AdditionalIps = append(out.Network.AdditionalIps, &runtimeapi.PodIP{Ip: ip.String()})
	}
	return out
}

// namespaceOptions echoes the requested modes; unset means POD.
func namespaceOptions(o *runtimeapi.NamespaceOption) *runtimeapi.NamespaceOption {
	if o == nil {
		return &runtimeapi.NamespaceOption{}
	}
	return &runtimeapi.NamespaceOption{Network: o.Network, Pid: o.Pid, Ipc: o.Ipc, TargetId: o.TargetId, UsernsOptions: o.UsernsOptions}
}

// sandboxInfo is the verbose status (crictl inspectp): what an operator
// needs to find the sandbox on the node.
func sandboxInfo(sb *sandbox.Sandbox, st sandbox.Status) map[string]string {
	info := struct {
		Pid            uint32                       `json:"pid"`
		NetNSPath      string                       `json:"netnsPath,omitempty"`
		Dir            string                       `json:"dir"`
		ShmPath        string                       `json:"shmPath,omitempty"`
		RuntimeHandler string                       `json:"runtimeHandler"`
		Problem        string                       `json:"problem,omitempty"`
		Config         *runtimeapi.PodSandboxConfig `json:"config"`
	}{st.Pid, sb.NetNSPath, sb.Dir, sb.ShmPath, sb.RuntimeHandler, st.Problem, sb.Config}
	data, err := json.Marshal(info)
	if err != nil {
		return nil
	}
	return map[string]string{"info": string(data)}
}
