package container

import (
	"context"

	"github.com/berth-cri/berth/images"
)

// IndexImages resolves images from the image service's in-memory index,
// without a containerd round trip.
type IndexImages struct {
	Service *images.Service
}

// Get resolves an image ID, reference or unique ID prefix.
func (ix IndexImages) Get(ctx context.Context, refOrID string) (Image, error) {
	img, err := ix.Service.Resolve(refOrID)
	if err != nil {
		return Image{}, err
	}
	ci := ix.Service.Containerd(img)
	return Image{ID: img.ID, RepoDigests: img.RepoDigests(), RepoTags: img.RepoTags(), Config: img.Config.Config, ChainID: img.ChainID.String(), Containerd: ci}, nil
}
