package cri

import (
	"context"
	"sort"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/berth-cri/berth/container"
)

// ListContainers answers from memory, newest first, with the filters CRI
// defines: ID (or a unique prefix), state, sandbox ID (or prefix), and
// labels that must all match. Exited containers stay listed until removed.
func (s *Service) ListContainers(ctx context.Context, r *runtimeapi.ListContainersRequest) (*runtimeapi.ListContainersResponse, error) {
	return &runtimeapi.ListContainersResponse{Containers: s.listContainers(r.GetFilter())}, nil
}

// StreamContainers sends the same list as ListContainers, in one message.
func (s *Service) StreamContainers(r *runtimeapi.StreamContainersRequest, stream runtimeapi.RuntimeService_StreamContainersServer) error {
	return stream.Send(&runtimeapi.StreamContainersResponse{Containers: s.listContainers(r.GetFilter())})
}

func (s *Service) listContainers(f *runtimeapi.ContainerFilter) []*runtimeapi.Container {
	store := s.containers.Store()
	candidates := store.List()
	if id := f.GetId(); id != "" {
		c, err := store.Get(id)
		if err != nil {
			return []*runtimeapi.Container{}
		}
		candidates = []*container.Container{c}
	}
	sandboxID := f.GetPodSandboxId()
	if sandboxID != "" {
		// A prefix names the sandbox as crictl users type it.
		if sb, err := s.sandboxes.Store().Get(sandboxID); err == nil {
			sandboxID = sb.ID
		}
	}
	out := make([]*runtimeapi.Container, 0, len(candidates))
	for _, c := range candidates {
		st := c.Status()
		if sandboxID != "" && c.SandboxID != sandboxID {
			continue
		}
		if f.GetState() != nil && f.GetState().GetState() != st.State {
			continue
		}
		if !labelsMatch(c.Config.GetLabels(), f.GetLabelSelector()) {
			continue
		}
		out = append(out, &runtimeapi.Container{
			Id:           c.ID,
			PodSandboxId: c.SandboxID,
			Metadata:     c.Config.GetMetadata(),
			Image:        &runtimeapi.ImageSpec{Image: c.ImageName, UserSpecifiedImage: c.Config.GetImage().GetUserSpecifiedImage()},
			// The image ID, as containerd answers here; ContainerStatus
			// gives the repo digest.
			ImageRef:    c.ImageID,
			ImageId:     c.ImageID,
			State:       st.State,
			CreatedAt:   c.CreatedAt.UnixNano(),
			Labels:      c.Config.GetLabels(),
			Annotations: c.Config.GetAnnotations(),
		})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].CreatedAt > out[j].CreatedAt })
	return out
}
