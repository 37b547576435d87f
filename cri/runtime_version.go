package cri

import (
	"context"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/berth-cri/berth/internal/version"
)

// kubeletAPIVersion must be exactly this: kubelet's runtime manager refuses
// any other "version" (ErrVersionNotSupported).
const kubeletAPIVersion = "0.1.0"

// Version returns the runtime name and versions; every field must be
// non-empty or kubelet's cri-client rejects the answer.
func (s *Service) Version(ctx context.Context, r *runtimeapi.VersionRequest) (*runtimeapi.VersionResponse, error) {
	return &runtimeapi.VersionResponse{
		Version:           kubeletAPIVersion,
		RuntimeName:       version.RuntimeName,
		RuntimeVersion:    version.Version,
		RuntimeApiVersion: version.CRIAPIVersion,
	}, nil
}
