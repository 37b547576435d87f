package container

import (
	"context"
	"fmt"
	"sort"
	"strings"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/errdefs"
	"github.com/distribution/reference"

	"github.com/berth-cri/berth/runtime/images"
)

// ContainerdImages finds images in containerd's image store directly, with
// a round trip per call. berthd prefers the image service's in-memory
// index; this serves until that is wired, and tools and tests without it.
type ContainerdImages struct {
	Client *containerd.Client
}

// Get resolves a reference ("busybox", "repo:tag", "repo@sha256:..."), an
// image ID ("sha256:...") or a unique ID prefix.
func (c ContainerdImages) Get(ctx context.Context, refOrID string) (Image, error) {
	if refOrID == "" {
		return Image{}, fmt.Errorf("image must not be empty: %w", errdefs.ErrInvalidArgument)
	}
	want := refOrID
	if named, err := reference.ParseDockerRef(refOrID); err == nil {
		want = named.String()
	}
	all, err := c.Client.ImageService().List(ctx)
	if err != nil {
		return Image{}, fmt.Errorf("list images: %w", err)
	}
	byID := map[string]*Image{}
	match := ""
	for _, ci := range all {
		img := containerd.NewImage(c.Client, ci)
		desc, err := img.Config(ctx)
		if err != nil {
			continue
		}
		id := desc.Digest.String()
		e, ok := byID[id]
		if !ok {
			e = &Image{ID: id, Containerd: img}
			byID[id] = e
		}
		switch {
		case strings.Contains(ci.Name, "@sha256:"):
			e.RepoDigests = append(e.RepoDigests, ci.Name)
		case !strings.HasPrefix(ci.Name, "sha256:"):
			e.RepoTags = append(e.RepoTags, ci.Name)
		}
		if ci.Name == want || ci.Name == refOrID || id == refOrID || id == "sha256:"+refOrID {
			match = id
		}
	}
	if match == "" {
		for id := range byID {
			if len(refOrID) >= 4 && (strings.HasPrefix(id, refOrID) || strings.HasPrefix(id, "sha256:"+refOrID)) {
				if match != "" {
					return Image{}, fmt.Errorf("image ID prefix %q is ambiguous: %w", refOrID, errdefs.ErrInvalidArgument)
				}
				match = id
			}
		}
	}
	if match == "" {
		return Image{}, fmt.Errorf("image %q: %w", refOrID, errdefs.ErrNotFound)
	}
	img := byID[match]
	sort.Strings(img.RepoDigests)
	sort.Strings(img.RepoTags)
	spec, err := img.Containerd.Spec(ctx)
	if err != nil {
		return Image{}, fmt.Errorf("image %s config: %w", refOrID, err)
	}
	img.Config = spec.Config
	return *img, nil
}

// IndexImages resolves images from the image service's in-memory index,
// with one containerd round trip for the image itself.
type IndexImages struct {
	Service *images.Service
}

// Get resolves an image ID, reference or unique ID prefix.
func (ix IndexImages) Get(ctx context.Context, refOrID string) (Image, error) {
	img, err := ix.Service.Resolve(refOrID)
	if err != nil {
		return Image{}, err
	}
	ci, err := ix.Service.Containerd(ctx, img)
	if err != nil {
		return Image{}, err
	}
	return Image{ID: img.ID, RepoDigests: img.RepoDigests(), RepoTags: img.RepoTags(), Config: img.Config.Config, Containerd: ci}, nil
}
