package images

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/containerd/containerd/v2/core/content"
	"github.com/containerd/containerd/v2/core/snapshots"
	"github.com/containerd/errdefs"
)

// fsUsageTTL is how long a measurement is served before it is taken
// again: kubelet asks every few seconds (stats, eviction, image GC), and
// measuring writable layers walks their files.
const fsUsageTTL = 5 * time.Second

// FsUsage is what images and containers use of the snapshotter's
// filesystem.
type FsUsage struct {
	// Timestamp is when it was measured.
	Timestamp time.Time
	// Mountpoint is the snapshotter's directory on the host, a real path
	// kubelet (cAdvisor) maps to its device.
	Mountpoint string
	// Images are the unpacked layers (committed snapshots) and the blobs
	// in the content store.
	ImageBytes, ImageInodes uint64
	// Containers are the writable layers (active snapshots).
	ContainerBytes, ContainerInodes uint64
}

type fsCache struct {
	mu   sync.Mutex
	root string
	last FsUsage
}

// FsUsage measures the image and container filesystems, or returns the
// measurement of the last few seconds.
func (s *Service) FsUsage(ctx context.Context) (FsUsage, error) {
	ctx = s.withNamespace(ctx)
	c := &s.fsInfo
	c.mu.Lock()
	defer c.mu.Unlock()
	now := s.now()
	if !c.last.Timestamp.IsZero() && now.Sub(c.last.Timestamp) < fsUsageTTL {
		return c.last, nil
	}
	if c.root == "" {
		root, err := s.snapshotterRoot(ctx)
		if err != nil {
			return FsUsage{}, err
		}
		c.root = root
	}
	u := FsUsage{Timestamp: now, Mountpoint: c.root}
	sn := s.client.SnapshotService(s.snapshotter)
	err := sn.Walk(ctx, func(ctx context.Context, info snapshots.Info) error {
		du, err := sn.Usage(ctx, info.Name)
		if errdefs.IsNotFound(err) {
			return nil // removed while walking
		}
		if err != nil {
			return err
		}
		if info.Kind == snapshots.KindCommitted {
			u.ImageBytes += uint64(du.Size)
			u.ImageInodes += uint64(du.Inodes)
		} else {
			u.ContainerBytes += uint64(du.Size)
			u.ContainerInodes += uint64(du.Inodes)
		}
		return nil
	})
	if err != nil {
		return FsUsage{}, fmt.Errorf("measure snapshots of %s: %w", s.snapshotter, err)
	}
	err = s.client.ContentStore().Walk(ctx, func(info content.Info) error {
		u.ImageBytes += uint64(info.Size)
		u.ImageInodes++
		return nil
	})
	if err != nil {
		return FsUsage{}, fmt.Errorf("measure the content store: %w", err)
	}
	c.last = u
	return u, nil
}

// snapshotterRoot asks containerd where the snapshotter keeps its data:
// under Berth's root for the embedded containerd, wherever an external
// one was told.
func (s *Service) snapshotterRoot(ctx context.Context) (string, error) {
	resp, err := s.client.IntrospectionService().Plugins(ctx, fmt.Sprintf("type==%s,id==%s", "io.containerd.snapshotter.v1", s.snapshotter))
	if err != nil {
		return "", fmt.Errorf("ask containerd for the %s snapshotter: %w", s.snapshotter, err)
	}
	for _, p := range resp.GetPlugins() {
		if root := p.GetExports()["root"]; root != "" {
			return root, nil
		}
	}
	return "", fmt.Errorf("containerd does not say where the %s snapshotter keeps its data: %w", s.snapshotter, errdefs.ErrUnavailable)
}
