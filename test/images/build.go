package images

import (
	"context"
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Built is a catalogue entry with its image.
type Built struct {
	Image
	Img v1.Image
}

// Build makes every image of the catalogue from in. Layers shared by
// several images are built once.
func Build(ctx context.Context, in Inputs) ([]Built, error) {
	return BuildSet(ctx, in, Catalog(in.arch()))
}

// BuildSet makes every image of catalog from in, as Build does.
func BuildSet(ctx context.Context, in Inputs, catalog []Image) ([]Built, error) {
	if err := checkRefs(catalog); err != nil {
		return nil, err
	}
	p := &parts{ctx: ctx, in: in, memo: map[string]v1.Layer{}}
	built := make([]Built, 0, len(catalog))
	for _, c := range catalog {
		p.ref = c.Refs[0]
		img, err := c.build(p)
		if err != nil {
			return nil, fmt.Errorf("building %s: %w", c.Refs[0], err)
		}
		built = append(built, Built{Image: c, Img: img})
	}
	return built, nil
}

// checkRefs makes sure every reference is a full, tagged name and that no
// name is claimed by two images.
func checkRefs(catalog []Image) error {
	owner := map[string]string{}
	for _, c := range catalog {
		if len(c.Refs) == 0 {
			return fmt.Errorf("catalogue entry %q has no reference", c.Contents)
		}
		for _, r := range c.Refs {
			if _, err := name.NewTag(r, name.StrictValidation); err != nil {
				return fmt.Errorf("reference %q: %w", r, err)
			}
			if prev, dup := owner[r]; dup {
				return fmt.Errorf("reference %q is claimed by %s and %s", r, prev, c.Refs[0])
			}
			owner[r] = c.Refs[0]
		}
	}
	return nil
}
