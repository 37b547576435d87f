package cri

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/containerd/errdefs"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/berth-cri/berth/container"
)

// restoreCleanupTimeout bounds the removal of a failed RestorePod's
// sandbox, on a fresh context: the request's may be over.
const restoreCleanupTimeout = 2 * time.Minute

// CheckpointPod checkpoints the selected running containers of a pod into
// the caller's empty directory (cri-api v0.37): all are paused before any
// is captured and resumed before it returns. Where CRIU cannot work the
// answer is FailedPrecondition naming why (docs/checkpoint.md).
func (s *Service) CheckpointPod(ctx context.Context, r *runtimeapi.CheckpointPodRequest) (*runtimeapi.CheckpointPodResponse, error) {
	err := s.containers.CheckpointPod(ctx, container.PodCheckpointOptions{
		SandboxID:    r.GetPodSandboxId(),
		OutputPath:   r.GetOutputPath(),
		ContainerIDs: r.GetContainerIds(),
		Options:      r.GetOptions(),
		Status: func(c *container.Container) ([]byte, error) {
			return json.Marshal(containerStatus(c, c.Status()))
		},
	})
	if err != nil {
		return nil, err
	}
	return &runtimeapi.CheckpointPodResponse{}, nil
}

// RestorePod runs a new sandbox from the request's configuration and
// restores every container of a CheckpointPod directory into it, leaving
// them CREATED; on error it removes what it made. The request is checked
// against the checkpoint before anything is made.
func (s *Service) RestorePod(ctx context.Context, r *runtimeapi.RestorePodRequest) (_ *runtimeapi.RestorePodResponse, retErr error) {
	if _, ok := ctx.Deadline(); !ok {
		return nil, fmt.Errorf("RestorePod needs a deadline on the call: %w", errdefs.ErrInvalidArgument)
	}
	if r.GetConfig().GetMetadata() == nil {
		return nil, fmt.Errorf("RestorePod needs a pod sandbox config with metadata: %w", errdefs.ErrInvalidArgument)
	}
	if err := container.RefuseOptions(r.GetOptions()); err != nil {
		return nil, err
	}
	if err := s.sandboxes.CheckHandler(r.GetRuntimeHandler()); err != nil {
		return nil, err
	}
	pc, err := container.ReadPodCheckpoint(r.GetCheckpointPath())
	if err != nil {
		return nil, err
	}
	if err := container.MatchPodCheckpoint(pc, r.GetContainerConfigs()); err != nil {
		return nil, err
	}
	for _, cfg := range r.GetContainerConfigs() {
		if _, _, err := container.CheckRestore(cfg, pc.Archives[cfg.GetMetadata().GetName()]); err != nil {
			return nil, err
		}
	}
	if err := s.containers.CheckCRIU(ctx); err != nil {
		return nil, fmt.Errorf("restore pod from %s: %w", r.GetCheckpointPath(), err)
	}

	id, err := s.sandboxes.Run(ctx, r.GetConfig(), r.GetRuntimeHandler())
	if err != nil {
		return nil, err
	}
	defer func() {
		if retErr != nil {
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), restoreCleanupTimeout)
			defer cancel()
			if err := s.sandboxes.Remove(cctx, id); err != nil {
				s.log.Warn("removing the sandbox of a failed RestorePod", "sandbox", id, "error", err)
			}
		}
	}()
	resp := &runtimeapi.RestorePodResponse{PodSandboxId: id}
	for _, cfg := range r.GetContainerConfigs() {
		name := cfg.GetMetadata().GetName()
		cid, err := s.containers.Restore(ctx, id, cfg, pc.Archives[name])
		if err != nil {
			return nil, fmt.Errorf("restore container %q: %w", name, err)
		}
		resp.RestoredContainers = append(resp.RestoredContainers, &runtimeapi.RestoredContainer{Name: name, ContainerId: cid})
	}
	return resp, nil
}
