package cri

import (
	"context"
	"fmt"

	"github.com/containerd/errdefs"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/berth-cri/berth/images"
)

// PullImage pulls, unpacks and names an image and answers its ID, the
// value every other RPC reports for it. An image the registry does not
// have is NotFound, a refused credential Unauthenticated, a pull stalled
// past image.pull_progress_timeout DeadlineExceeded; each message names
// the reference.
func (s *Service) PullImage(ctx context.Context, r *runtimeapi.PullImageRequest) (*runtimeapi.PullImageResponse, error) {
	if s.images == nil {
		return nil, errNoImageService
	}
	spec := r.GetImage()
	// CRI: "If the runtime handler is unknown, the request should be
	// rejected." Every handler's images unpack into the one snapshotter.
	if _, err := s.handlers.Lookup(spec.GetRuntimeHandler()); err != nil {
		return nil, fmt.Errorf("pull image %q: %w", spec.GetImage(), err)
	}
	img, err := s.images.Pull(ctx, spec.GetImage(), authFromCRI(r.GetAuth()))
	if err != nil {
		return nil, err
	}
	return &runtimeapi.PullImageResponse{ImageRef: img.ID}, nil
}

func authFromCRI(a *runtimeapi.AuthConfig) images.Auth {
	if a == nil {
		return images.Auth{}
	}
	return images.Auth{
		Username:      a.GetUsername(),
		Password:      a.GetPassword(),
		Auth:          a.GetAuth(),
		IdentityToken: a.GetIdentityToken(),
		RegistryToken: a.GetRegistryToken(),
		ServerAddress: a.GetServerAddress(),
	}
}

// errNoImageService answers image RPCs of a Service built without one
// (unit tests of the runtime side): as if they had no handler.
var errNoImageService = fmt.Errorf("this berthd serves no image service: %w", errdefs.ErrNotImplemented)
