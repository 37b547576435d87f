package cri

import (
	"context"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// RemoveImage removes an image, named by ID, any tag or digest, with all
// its names: CRI removes images, not tags (critest's "removing image by
// one tag should remove all tags"). An unknown image is success. An image
// containers were created from is removed all the same, as containerd
// does: their snapshots are theirs, and kubelet only removes unused ones.
func (s *Service) RemoveImage(ctx context.Context, r *runtimeapi.RemoveImageRequest) (*runtimeapi.RemoveImageResponse, error) {
	if s.images == nil {
		return nil, errNoImageService
	}
	if err := s.images.Remove(ctx, r.GetImage().GetImage()); err != nil {
		return nil, err
	}
	return &runtimeapi.RemoveImageResponse{}, nil
}
