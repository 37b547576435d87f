package cri

import (
	"context"
	"encoding/json"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/berth-cri/berth/container"
)

// CheckpointContainer writes a CRIU checkpoint of a running container to
// the archive at location (checkpointctl's layout, as CRI-O and containerd
// write it); the container keeps running. CreateContainer with the
// archive's path as its image restores it. Where CRIU cannot work the
// answer is FailedPrecondition naming why (docs/checkpoint.md).
func (s *Service) CheckpointContainer(ctx context.Context, r *runtimeapi.CheckpointContainerRequest) (*runtimeapi.CheckpointContainerResponse, error) {
	err := s.containers.Checkpoint(ctx, r.GetContainerId(), container.CheckpointOptions{
		Location: r.GetLocation(),
		Timeout:  time.Duration(r.GetTimeout()) * time.Second,
		Status: func(c *container.Container) ([]byte, error) {
			return json.Marshal(containerStatus(c, c.Status()))
		},
	})
	if err != nil {
		return nil, err
	}
	return &runtimeapi.CheckpointContainerResponse{}, nil
}
