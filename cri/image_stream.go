package cri

import (
	"google.golang.org/grpc"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// imageStreamBatch is how many images go in one StreamImages message:
// far below the 16 MiB message limit even with many tags each.
const imageStreamBatch = 200

// StreamImages is ListImages in batches (KEP-5825, CRIListStreaming):
// kubelet uses it on nodes with more images than one message holds.
func (s *Service) StreamImages(r *runtimeapi.StreamImagesRequest, stream grpc.ServerStreamingServer[runtimeapi.StreamImagesResponse]) error {
	if s.images == nil {
		return errNoImageService
	}
	all := toCRIImages(filterImages(s.images, r.GetFilter()))
	for start := 0; start < len(all); start += imageStreamBatch {
		if err := stream.Context().Err(); err != nil {
			return err
		}
		end := min(start+imageStreamBatch, len(all))
		if err := stream.Send(&runtimeapi.StreamImagesResponse{Images: all[start:end]}); err != nil {
			return err
		}
	}
	return nil
}
