package cri

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/containerd/errdefs"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-cri/berth/images"
)

// fakeImages stands in for images: a fixed set of images,
// resolved by ID, full reference, short name or ID prefix.
type fakeImages struct {
	mu       sync.Mutex
	imgs     []images.Image
	pullErr  error
	pulled   []string
	auths    []images.Auth
	removed  []string
	fsUsage  images.FsUsage
	fsErr    error
	resolveN int
}

func (f *fakeImages) Pull(ctx context.Context, ref string, auth images.Auth) (images.Image, error) {
	f.mu.Lock()
	f.pulled = append(f.pulled, ref)
	f.auths = append(f.auths, auth)
	err := f.pullErr
	f.mu.Unlock()
	if err != nil {
		return images.Image{}, err
	}
	return f.Resolve(ref)
}

func (f *fakeImages) Resolve(refOrID string) (images.Image, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.resolveN++
	if refOrID == "" {
		return images.Image{}, fmt.Errorf("empty: %w", errdefs.ErrInvalidArgument)
	}
	want := refOrID
	if named, err := images.Normalize(refOrID); err == nil && !strings.HasPrefix(refOrID, "sha256:") {
		want = named.String()
	}
	for _, img := range f.imgs {
		if img.ID == refOrID || slices.Contains(img.References, want) || strings.HasPrefix(strings.TrimPrefix(img.ID, "sha256:"), refOrID) {
			return img, nil
		}
	}
	return images.Image{}, fmt.Errorf("image %q: %w", refOrID, errdefs.ErrNotFound)
}

func (f *fakeImages) List() []images.Image {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.imgs)
}

func (f *fakeImages) Remove(ctx context.Context, refOrID string) error {
	img, err := f.Resolve(refOrID)
	if errdefs.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.removed = append(f.removed, img.ID)
	f.imgs = slices.DeleteFunc(f.imgs, func(i images.Image) bool { return i.ID == img.ID })
	return nil
}

func (f *fakeImages) FsUsage(context.Context) (images.FsUsage, error) { return f.fsUsage, f.fsErr }

const (
	busyboxID = "sha256:1111aaaa00000000000000000000000000000000000000000000000000000001"
	nginxID   = "sha256:2222bbbb00000000000000000000000000000000000000000000000000000002"
	pauseID   = "sha256:3333cccc00000000000000000000000000000000000000000000000000000003"
	digestA   = "sha256:aaaa000000000000000000000000000000000000000000000000000000000000"
)

func withUser(u string) ocispec.Image {
	return ocispec.Image{Config: ocispec.ImageConfig{User: u}}
}

// newImageEnv serves a Service whose image service is a fake holding
// busybox (user nobody, two tags and a digest), nginx (user 101, two
// tags) and pause (pinned, 65535:65535).
func newImageEnv(t *testing.T) (*testEnv, *fakeImages) {
	t.Helper()
	env := newTestEnv(t)
	fake := &fakeImages{imgs: []images.Image{
		{ID: busyboxID, Size: 1000, Config: withUser("nobody"), References: []string{
			busyboxID, "docker.io/library/busybox:1.36", "docker.io/library/busybox:latest", "docker.io/library/busybox@" + digestA,
		}},
		{ID: nginxID, Size: 2000, Config: withUser("101"), References: []string{
			nginxID, "docker.io/library/nginx:1", "quay.io/nginx/nginx:1",
		}},
		{ID: pauseID, Size: 300, Pinned: true, Config: withUser("65535:65535"), References: []string{
			pauseID, "registry.k8s.io/pause:3.10.1",
		}},
	}, fsUsage: images.FsUsage{
		Timestamp: time.Unix(1700000000, 0), Mountpoint: "/var/lib/berth/containerd/io.containerd.snapshotter.v1.overlayfs",
		ImageBytes: 4096, ImageInodes: 12, ContainerBytes: 512, ContainerInodes: 3,
	}}
	env.svc.images = fake
	env.svc.SetReady()
	return env, fake
}

func TestToCRIImage(t *testing.T) {
	img := images.Image{
		ID: busyboxID, Size: 1000, Pinned: true, Config: withUser("1000:1000"),
		References: []string{busyboxID, "docker.io/library/busybox:latest", "docker.io/library/busybox@" + digestA},
	}
	got := toCRIImage(img)
	if got.Id != busyboxID || got.Size != 1000 || !got.Pinned || got.GetUid().GetValue() != 1000 || got.Username != "" {
		t.Errorf("toCRIImage = %+v", got)
	}
	if !slices.Equal(got.RepoTags, []string{"docker.io/library/busybox:latest"}) || !slices.Equal(got.RepoDigests, []string{"docker.io/library/busybox@" + digestA}) {
		t.Errorf("tags %v digests %v: the ID must be neither", got.RepoTags, got.RepoDigests)
	}
	img.Config = withUser("www-data")
	if got := toCRIImage(img); got.Uid != nil || got.Username != "www-data" {
		t.Errorf("named user: uid %v username %q", got.Uid, got.Username)
	}
	img.Config = withUser("")
	if got := toCRIImage(img); got.Uid != nil || got.Username != "" {
		t.Errorf("no user: uid %v username %q", got.Uid, got.Username)
	}
}
