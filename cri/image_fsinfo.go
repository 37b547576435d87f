package cri

import (
	"context"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// ImageFsInfo reports the snapshotter's filesystem twice: as the image
// filesystem (unpacked layers and content blobs) and as the container
// filesystem (writable layers). Both carry the same mountpoint, so
// kubelet sees one device, not a split image filesystem (KEP-4191), and
// both have used_bytes and inodes_used set: kubelet dereferences
// UsedBytes without a nil check.
func (s *Service) ImageFsInfo(ctx context.Context, r *runtimeapi.ImageFsInfoRequest) (*runtimeapi.ImageFsInfoResponse, error) {
	if s.images == nil {
		return nil, errNoImageService
	}
	u, err := s.images.FsUsage(ctx)
	if err != nil {
		return nil, err
	}
	usage := func(bytes, inodes uint64) *runtimeapi.FilesystemUsage {
		return &runtimeapi.FilesystemUsage{
			Timestamp:  u.Timestamp.UnixNano(),
			FsId:       &runtimeapi.FilesystemIdentifier{Mountpoint: u.Mountpoint},
			UsedBytes:  &runtimeapi.UInt64Value{Value: bytes},
			InodesUsed: &runtimeapi.UInt64Value{Value: inodes},
		}
	}
	return &runtimeapi.ImageFsInfoResponse{
		ImageFilesystems:     []*runtimeapi.FilesystemUsage{usage(u.ImageBytes, u.ImageInodes)},
		ContainerFilesystems: []*runtimeapi.FilesystemUsage{usage(u.ContainerBytes, u.ContainerInodes)},
	}, nil
}
