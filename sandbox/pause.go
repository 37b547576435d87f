package sandbox

import (
	"context"
	"fmt"

	"github.com/containerd/errdefs"
	"github.com/opencontainers/image-spec/identity"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// snapshotter is where images are unpacked and pause views are made.
const snapshotter = "overlayfs"

// pauseImage is what Run needs of the pause image, resolved once: reading
// it from containerd's content store costs several round trips per pod.
type pauseImage struct {
	ref     string
	chainID string
	config  ocispec.ImageConfig
}

// resolvePause returns the cached pause image, or reads it from containerd.
func (m *Manager) resolvePause(ctx context.Context) (*pauseImage, error) {
	m.pauseMu.Lock()
	cached := m.pause
	m.pauseMu.Unlock()
	if cached != nil {
		return cached, nil
	}
	img, err := m.cfg.Containerd.Images.GetImage(ctx, m.cfg.PauseImage)
	if errdefs.IsNotFound(err) {
		return nil, fmt.Errorf("pause image %s is not in containerd (berthd imports its own at start; was it removed?): %w", m.cfg.PauseImage, errdefs.ErrFailedPrecondition)
	}
	if err != nil {
		return nil, fmt.Errorf("pause image %s: %w", m.cfg.PauseImage, err)
	}
	if ok, err := img.IsUnpacked(ctx, snapshotter); err != nil || !ok {
		if err := img.Unpack(ctx, snapshotter); err != nil {
			return nil, fmt.Errorf("unpack pause image %s: %w", m.cfg.PauseImage, err)
		}
	}
	diffIDs, err := img.RootFS(ctx)
	if err != nil {
		return nil, fmt.Errorf("pause image %s layers: %w", m.cfg.PauseImage, err)
	}
	spec, err := img.Spec(ctx)
	if err != nil {
		return nil, fmt.Errorf("pause image %s config: %w", m.cfg.PauseImage, err)
	}
	p := &pauseImage{ref: m.cfg.PauseImage, chainID: identity.ChainID(diffIDs).String(), config: spec.Config}
	m.pauseMu.Lock()
	m.pause = p
	m.pauseMu.Unlock()
	return p, nil
}

// forgetPause drops the cache, after the image it described went away.
func (m *Manager) forgetPause() {
	m.pauseMu.Lock()
	m.pause = nil
	m.pauseMu.Unlock()
}
