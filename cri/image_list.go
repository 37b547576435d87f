package cri

import (
	"context"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// ListImages answers from the in-memory index; see filterImages for what
// the filter matches.
func (s *Service) ListImages(ctx context.Context, r *runtimeapi.ListImagesRequest) (*runtimeapi.ListImagesResponse, error) {
	if s.images == nil {
		return nil, errNoImageService
	}
	return &runtimeapi.ListImagesResponse{Images: toCRIImages(filterImages(s.images, r.GetFilter()))}, nil
}
