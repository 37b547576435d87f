package images

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/containerd/containerd/v2/core/content"
	"github.com/containerd/containerd/v2/core/images"
	"github.com/containerd/containerd/v2/core/images/archive"
	"github.com/containerd/containerd/v2/core/transfer"
	tarchive "github.com/containerd/containerd/v2/core/transfer/archive"
	transferimage "github.com/containerd/containerd/v2/core/transfer/image"
	"github.com/containerd/containerd/v2/pkg/archive/compression"
	"github.com/containerd/errdefs"
	"github.com/containerd/platforms"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// importPrefix names an image whose archive gives only a tag
// (an OCI layout's "org.opencontainers.image.ref.name" of "1.0"), as
// docker.io/library/import:1.0; images with a full name keep it.
const importPrefix = "import"

// importCompleted is the transfer service's last progress event of an
// import; progressGrace bounds the wait for it after the transfer
// returned.
const (
	importCompleted = "Completed import"
	progressGrace   = 10 * time.Second
)

// ImportOptions say how Import names what it loads.
type ImportOptions struct {
	// AllPlatforms keeps every platform's content the archive holds;
	// otherwise only Berth's platform's is kept.
	AllPlatforms bool
	// Name, if set, names the archive's image (the archive's index, as
	// `ctr images import --index-name` does) instead of the names in the
	// archive. The archive must then hold one image.
	Name string
}

// Import loads an image archive, as `docker save` (docker-archive) or
// skopeo, crane and buildx (an OCI image layout in a tar) write them,
// optionally gzip- or zstd-compressed, into containerd through its
// transfer service, unpacked for Berth's snapshotter and platform, and
// indexes the names it created, which it returns.
//
// containerd holds what the import writes under a lease until the names
// are made, after the whole archive was read and unpacked: a corrupt or
// truncated archive fails with nothing named, and its content goes with
// the next garbage collection.
func (s *Service) Import(ctx context.Context, r io.Reader, opts ImportOptions) ([]Image, error) {
	ctx = s.withNamespace(ctx)
	in, err := compression.DecompressStream(r)
	if err != nil {
		return nil, fmt.Errorf("read image archive: %w", err)
	}
	defer in.Close()

	storeOpts := []transferimage.StoreOpt{
		transferimage.WithImageLabels(map[string]string{LabelManaged: valueManaged}),
		transferimage.WithUnpack(s.platformSpec, s.snapshotter),
	}
	if !opts.AllPlatforms {
		storeOpts = append(storeOpts, transferimage.WithPlatforms(s.platformSpec))
	}
	indexName := ""
	if opts.Name != "" {
		named, err := Normalize(opts.Name)
		if err != nil {
			return nil, err
		}
		indexName = named.String()
	} else {
		storeOpts = append(storeOpts, transferimage.WithNamedPrefix(importPrefix, true))
	}

	// The names made are known from the transfer's progress events only,
	// which arrive on their own stream, possibly after the transfer
	// returned: its last event, "Completed import", says all have come.
	var (
		mu        sync.Mutex
		saved     = map[string]ocispec.Descriptor{}
		completed = make(chan struct{})
	)
	err = s.transfer(ctx, tarchive.NewImageImportStream(in, ""), transferimage.NewStore(indexName, storeOpts...),
		transfer.WithProgress(func(p transfer.Progress) {
			mu.Lock()
			defer mu.Unlock()
			switch {
			case p.Event == "saved" && p.Desc != nil:
				saved[p.Name] = *p.Desc
			case p.Event == importCompleted:
				close(completed)
			}
		}))
	if err != nil {
		return nil, fmt.Errorf("import image archive (nothing was named): %w", err)
	}
	select {
	case <-completed:
	case <-time.After(progressGrace):
		return nil, fmt.Errorf("import image archive: containerd imported it but did not say which names it made: %w", errdefs.ErrUnavailable)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	mu.Lock()
	saved = maps.Clone(saved)
	mu.Unlock()
	if len(saved) == 0 {
		return nil, fmt.Errorf("the image archive names no image: give it a name (--name): %w", errdefs.ErrInvalidArgument)
	}
	if indexName != "" {
		if err := s.oneImage(ctx, indexName, saved[indexName]); err != nil {
			return nil, err
		}
	}
	names, err := s.normalizeNames(ctx, saved)
	if err != nil {
		return nil, err
	}
	var out []Image
	for _, n := range names {
		img, err := s.indexImported(ctx, n)
		if err != nil {
			return out, err
		}
		if !slices.ContainsFunc(out, func(o Image) bool { return o.ID == img.ID }) {
			out = append(out, img)
		}
	}
	return out, nil
}

// oneImage checks that the archive's index, named by --name, holds one
// image (any number of tags of one manifest or one image index), and
// removes the name if not: a name must not stand for several images.
func (s *Service) oneImage(ctx context.Context, name string, index ocispec.Descriptor) error {
	blob, err := content.ReadBlob(ctx, s.client.ContentStore(), index)
	if err != nil {
		return fmt.Errorf("read the imported archive's index: %w", err)
	}
	var idx ocispec.Index
	if err := json.Unmarshal(blob, &idx); err != nil {
		return fmt.Errorf("the imported archive's index: %v: %w", err, errdefs.ErrDataLoss)
	}
	distinct := map[digest.Digest]bool{}
	for _, m := range idx.Manifests {
		distinct[m.Digest] = true
	}
	if len(distinct) == 1 {
		return nil
	}
	if err := s.client.ImageService().Delete(ctx, name); err != nil && !errdefs.IsNotFound(err) {
		return fmt.Errorf("remove %s: %w", name, err)
	}
	return fmt.Errorf("the archive holds %d images; --name names an archive of one: %w", len(distinct), errdefs.ErrInvalidArgument)
}

// normalizeNames gives every name the import made the form Berth resolves
// names by ("busybox:1.36" becomes docker.io/library/busybox:1.36, as a
// pull would name it), and returns the names, sorted.
func (s *Service) normalizeNames(ctx context.Context, saved map[string]ocispec.Descriptor) ([]string, error) {
	is := s.client.ImageService()
	var names []string
	for n, target := range saved {
		named, err := Normalize(n)
		if err != nil || named.String() == n {
			names = append(names, n)
			continue
		}
		if err := s.putName(ctx, named.String(), target, s.labels(named.String(), false)); err != nil {
			return nil, fmt.Errorf("name the imported image %s: %w", named, err)
		}
		if err := is.Delete(ctx, n); err != nil && !errdefs.IsNotFound(err) {
			return nil, fmt.Errorf("remove the unnormalised name %s: %w", n, err)
		}
		names = append(names, named.String())
	}
	slices.Sort(names)
	return slices.Compact(names), nil
}

// indexImported makes sure the image under name is unpacked (a containerd
// whose transfer service does not unpack for Berth's platform and
// snapshotter leaves it packed), and indexes it with its ID name.
func (s *Service) indexImported(ctx context.Context, name string) (Image, error) {
	ci, err := s.client.ImageService().Get(ctx, name)
	if err != nil {
		return Image{}, fmt.Errorf("imported image %s: %w", name, err)
	}
	if err := s.unpack(ctx, ci); err != nil {
		return Image{}, err
	}
	if err := s.refresh(ctx, name); err != nil {
		return Image{}, err
	}
	return s.store.resolve(name)
}

// Export writes the images refs name (as CRI clients name them:
// "busybox" is docker.io/library/busybox:latest) to w as one archive that
// both `docker load` and Import read (an OCI image layout with docker's
// manifest.json), with Berth's platform's content only unless
// allPlatforms. Closing w is the caller's.
//
// The archive is written here, from containerd's content store, and not
// by containerd's transfer service: an export transfer sends the archive
// on a stream that has no end-of-data mark, copied to w on a goroutine of
// the transfer client's own, and the transfer returns when containerd has
// sent the last byte, not when w got it. A caller that closed w then cut
// the archive short. Written here, the archive is whole when Export
// returns nil.
func (s *Service) Export(ctx context.Context, w io.Writer, refs []string, allPlatforms bool) error {
	ctx = s.withNamespace(ctx)
	if len(refs) == 0 {
		return fmt.Errorf("export: no image named: %w", errdefs.ErrInvalidArgument)
	}
	imgs := make([]images.Image, 0, len(refs))
	for _, ref := range refs {
		named, err := Normalize(ref)
		if err != nil {
			return err
		}
		img, err := s.client.ImageService().Get(ctx, named.String())
		if err != nil {
			return fmt.Errorf("export image %s: %w", named, err)
		}
		imgs = append(imgs, img)
	}
	opts := []archive.ExportOpt{archive.WithImages(imgs), archive.WithPlatform(platforms.Ordered(s.platformSpec))}
	if allPlatforms {
		opts = append(opts, archive.WithAllPlatforms())
	}
	if err := archive.Export(ctx, s.client.ContentStore(), w, opts...); err != nil {
		return fmt.Errorf("export images: %w", err)
	}
	return nil
}
