package cri

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/containerd/errdefs"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// ImageStatus reports an image named by ID, any reference or ID prefix.
// An image that is not there is an empty response, not an error, as CRI
// specifies: kubelet asks before every pull. Verbose adds the image
// config as JSON under "info", in the shape containerd gives it, so tools
// reading `crictl inspecti` work with both.
func (s *Service) ImageStatus(ctx context.Context, r *runtimeapi.ImageStatusRequest) (*runtimeapi.ImageStatusResponse, error) {
	if s.images == nil {
		return nil, errNoImageService
	}
	// An image is the same for every handler (one snapshotter), but not
	// for one that does not exist.
	if _, err := s.handlers.Lookup(r.GetImage().GetRuntimeHandler()); err != nil {
		return nil, fmt.Errorf("image %q: %w", r.GetImage().GetImage(), err)
	}
	img, err := s.images.Resolve(r.GetImage().GetImage())
	if errdefs.IsNotFound(err) {
		return &runtimeapi.ImageStatusResponse{}, nil
	}
	if err != nil {
		return nil, err
	}
	resp := &runtimeapi.ImageStatusResponse{Image: toCRIImage(img)}
	if r.GetVerbose() {
		info, err := json.Marshal(verboseImageInfo{
			ChainID:    img.ChainID.String(),
			ImageSpec:  img.Config,
			Target:     img.Target,
			References: img.References,
		})
		if err != nil {
			return nil, fmt.Errorf("image %s: encode its config: %w", img.ID, err)
		}
		resp.Info = map[string]string{"info": string(info)}
	}
	return resp, nil
}

type verboseImageInfo struct {
	ChainID    string             `json:"chainID"`
	ImageSpec  ocispec.Image      `json:"imageSpec"`
	Target     ocispec.Descriptor `json:"target"`
	References []string           `json:"references"`
}
