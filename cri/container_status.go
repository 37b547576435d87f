package cri

import (
	"context"
	"encoding/json"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/berth-cri/berth/container"
)

// ContainerStatus answers from memory. kubelet copies image_ref, log_path,
// user and resources into the pod status, and keeps exited containers'
// exit code and reason for restart decisions.
func (s *Service) ContainerStatus(ctx context.Context, r *runtimeapi.ContainerStatusRequest) (*runtimeapi.ContainerStatusResponse, error) {
	c, err := s.containers.Store().Get(r.GetContainerId())
	if err != nil {
		return nil, err
	}
	st := c.Status()
	resp := &runtimeapi.ContainerStatusResponse{Status: containerStatus(c, st)}
	if r.GetVerbose() {
		resp.Info = containerInfo(c, st)
	}
	return resp, nil
}

func containerStatus(c *container.Container, st container.Status) *runtimeapi.ContainerStatus {
	cfg := c.Config
	out := &runtimeapi.ContainerStatus{
		Id:          c.ID,
		Metadata:    cfg.GetMetadata(),
		State:       st.State,
		CreatedAt:   c.CreatedAt.UnixNano(),
		StartedAt:   unixNano(st.StartedAt),
		FinishedAt:  unixNano(st.FinishedAt),
		ExitCode:    st.ExitCode,
		Image:       &runtimeapi.ImageSpec{Image: c.ImageName, UserSpecifiedImage: cfg.GetImage().GetUserSpecifiedImage(), Annotations: cfg.GetImage().GetAnnotations()},
		ImageRef:    c.ImageRef,
		ImageId:     c.ImageID,
		Reason:      st.Reason,
		Message:     st.Message,
		Labels:      cfg.GetLabels(),
		Annotations: cfg.GetAnnotations(),
		Mounts:      cfg.GetMounts(),
		LogPath:     c.LogPath,
		User: &runtimeapi.ContainerUser{Linux: &runtimeapi.LinuxContainerUser{
			Uid: int64(c.User.UID), Gid: int64(c.User.GID), SupplementalGroups: int64s(c.User.SupplementalGroups),
		}},
		StopSignal: cfg.GetStopSignal(),
	}
	if st.Resources != nil {
		out.Resources = &runtimeapi.ContainerResources{Linux: st.Resources}
	}
	return out
}

func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func int64s(in []uint32) []int64 {
	out := make([]int64, 0, len(in))
	for _, v := range in {
		out = append(out, int64(v))
	}
	return out
}

// containerInfo is the verbose status (crictl inspect): what an operator
// needs to find the container on the node.
func containerInfo(c *container.Container, st container.Status) map[string]string {
	info := struct {
		SandboxID   string                      `json:"sandboxID"`
		Pid         uint32                      `json:"pid"`
		Removing    bool                        `json:"removing"`
		CgroupsPath string                      `json:"cgroupsPath"`
		LogPath     string                      `json:"logPath,omitempty"`
		StopSignal  string                      `json:"stopSignal"`
		ImageID     string                      `json:"imageID"`
		User        container.User              `json:"user"`
		Config      *runtimeapi.ContainerConfig `json:"config"`
	}{c.SandboxID, st.Pid, st.Removing, c.CgroupsPath, c.LogPath, c.StopSignal, c.ImageID, c.User, c.Config}
	data, err := json.Marshal(info)
	if err != nil {
		return nil
	}
	return map[string]string{"info": string(data)}
}
