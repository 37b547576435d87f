package cri

import (
	"context"

	"github.com/distribution/reference"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/berth-cri/berth/images"
)

// ImageService is what the image RPCs need of images; the fake in
// image_helpers_test.go stands in for it.
type ImageService interface {
	Pull(ctx context.Context, ref string, auth images.Auth) (images.Image, error)
	Resolve(refOrID string) (images.Image, error)
	List() []images.Image
	Remove(ctx context.Context, refOrID string) error
	FsUsage(ctx context.Context) (images.FsUsage, error)
}

// toCRIImage is how an image looks over CRI. The user is a UID when the
// config's user is numeric, else a user name (CRI has both, exclusive).
func toCRIImage(img images.Image) *runtimeapi.Image {
	out := &runtimeapi.Image{
		Id:          img.ID,
		RepoTags:    img.RepoTags(),
		RepoDigests: img.RepoDigests(),
		Size:        uint64(img.Size),
		Pinned:      img.Pinned,
	}
	uid, username := img.User()
	if uid != nil {
		out.Uid = &runtimeapi.Int64Value{Value: *uid}
	}
	out.Username = username
	return out
}

// filterImages applies a ListImages/StreamImages filter. An empty filter
// keeps everything. A repository name alone ("busybox",
// "registry.k8s.io/pause") keeps every image of that repository, any tag
// or digest, as `docker images busybox` does. Anything else (an ID, an
// ID prefix, a name with a tag or digest) keeps the one image it names.
func filterImages(svc ImageService, filter *runtimeapi.ImageFilter) []images.Image {
	want := filter.GetImage().GetImage()
	all := svc.List()
	if want == "" {
		return all
	}
	if named, err := reference.ParseNormalizedNamed(want); err == nil && reference.IsNameOnly(named) {
		var out []images.Image
		for _, img := range all {
			if inRepository(img, named.Name()) {
				out = append(out, img)
			}
		}
		if len(out) > 0 {
			return out
		}
	}
	img, err := svc.Resolve(want)
	if err != nil {
		return nil
	}
	return []images.Image{img}
}

func inRepository(img images.Image, repo string) bool {
	for _, r := range img.References {
		if named, err := reference.ParseNormalizedNamed(r); err == nil && named.Name() == repo {
			return true
		}
	}
	return false
}

func toCRIImages(imgs []images.Image) []*runtimeapi.Image {
	out := make([]*runtimeapi.Image, 0, len(imgs))
	for _, img := range imgs {
		out = append(out, toCRIImage(img))
	}
	return out
}
