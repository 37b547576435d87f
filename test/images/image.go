package images

import (
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// LabelTestImage is set on every image to its main reference. Besides
// saying where an image came from, it keeps images that share all their
// layers (the benchmark busyboxes, pause:3.9 and pause:3.10.1) distinct:
// critest counts images by ID and removes them by ID.
const LabelTestImage = "io.berth.test-image"

// layerSpec is one layer and the history line saying how it was made.
type layerSpec struct {
	layer     v1.Layer
	createdBy string
}

// assemble makes an OCI image of the layers, in order, with cfg as its
// runtime configuration. Everything that could vary between runs is
// fixed: creation times are Epoch and media types are OCI ones.
func assemble(arch string, layers []layerSpec, cfg v1.Config) (v1.Image, error) {
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	adds := make([]mutate.Addendum, 0, len(layers))
	for _, l := range layers {
		adds = append(adds, mutate.Addendum{
			Layer:     l.layer,
			MediaType: types.OCILayer,
			History:   v1.History{Created: v1.Time{Time: Epoch}, CreatedBy: l.createdBy},
		})
	}
	img, err := mutate.Append(img, adds...)
	if err != nil {
		return nil, fmt.Errorf("appending layers: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	cf = cf.DeepCopy()
	cf.Architecture = arch
	cf.OS = "linux"
	cf.Created = v1.Time{Time: Epoch}
	cf.Config = cfg
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, fmt.Errorf("setting config: %w", err)
	}
	return img, nil
}
