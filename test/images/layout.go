package images

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
)

// Annotations a layout's index puts on each image descriptor, one
// descriptor per reference. containerd's Import reads the first; the OCI
// one holds only the tag, as the image-spec suggests.
const (
	AnnotationImageName = "io.containerd.image.name"
	AnnotationRefName   = "org.opencontainers.image.ref.name"
)

// refAnnotations are the index annotations naming ref.
func refAnnotations(ref string) (map[string]string, error) {
	tag, err := name.NewTag(ref, name.StrictValidation)
	if err != nil {
		return nil, fmt.Errorf("reference %q: %w", ref, err)
	}
	return map[string]string{
		AnnotationImageName: ref,
		AnnotationRefName:   tag.TagStr(),
	}, nil
}

func platform(img v1.Image) (v1.Platform, error) {
	cf, err := img.ConfigFile()
	if err != nil {
		return v1.Platform{}, fmt.Errorf("reading config: %w", err)
	}
	return v1.Platform{OS: cf.OS, Architecture: cf.Architecture}, nil
}

// WriteLayout writes the images as an OCI image layout at dir, replacing
// whatever was there. The index lists one descriptor per reference, in
// catalogue order. It is written beside dir first and renamed into place,
// so a reader never sees half a layout.
func WriteLayout(dir string, built []Built) error {
	tmp := dir + ".tmp"
	if err := os.RemoveAll(tmp); err != nil {
		return fmt.Errorf("clearing %s: %w", tmp, err)
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return fmt.Errorf("creating parent of %s: %w", dir, err)
	}
	lp, err := layout.Write(tmp, empty.Index)
	if err != nil {
		return fmt.Errorf("starting layout %s: %w", tmp, err)
	}
	for _, b := range built {
		plat, err := platform(b.Img)
		if err != nil {
			return fmt.Errorf("%s: %w", b.Refs[0], err)
		}
		for _, ref := range b.Refs {
			ann, err := refAnnotations(ref)
			if err != nil {
				return err
			}
			if err := lp.AppendImage(b.Img, layout.WithAnnotations(ann), layout.WithPlatform(plat)); err != nil {
				return fmt.Errorf("writing %s to layout: %w", ref, err)
			}
		}
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("removing old layout %s: %w", dir, err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		return fmt.Errorf("moving layout into place: %w", err)
	}
	return nil
}

// LayoutImage is one reference of a layout and the image it names.
type LayoutImage struct {
	Ref string
	Img v1.Image
}

// ReadLayout lists the references of the layout at dir, in index order.
// A descriptor without a full image name is an error: the layout is ours
// and every image in it is meant to be served under a name.
func ReadLayout(dir string) ([]LayoutImage, error) {
	lp, err := layout.FromPath(dir)
	if err != nil {
		return nil, fmt.Errorf("opening layout %s: %w", dir, err)
	}
	idx, err := lp.ImageIndex()
	if err != nil {
		return nil, fmt.Errorf("reading index of %s: %w", dir, err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("reading index of %s: %w", dir, err)
	}
	var out []LayoutImage
	for _, desc := range im.Manifests {
		ref := desc.Annotations[AnnotationImageName]
		if ref == "" {
			return nil, fmt.Errorf("layout %s: descriptor %s has no %s annotation", dir, desc.Digest, AnnotationImageName)
		}
		img, err := idx.Image(desc.Digest)
		if err != nil {
			return nil, fmt.Errorf("layout %s: image %s: %w", dir, ref, err)
		}
		out = append(out, LayoutImage{Ref: ref, Img: img})
	}
	return out, nil
}
