package images

import (
	"context"
	"errors"
	"fmt"

	"github.com/containerd/containerd/v2/core/images"
	"github.com/containerd/errdefs"
)

// Remove removes the image refOrID names (its ID, any of its tags or
// digests, or a unique ID prefix) under all its names: CRI removes images,
// not tags. An unknown image is not an error.
//
// Like containerd's CRI plugin, Remove does not refuse an image that
// containers were created from, pinned or not: their snapshots are their
// own and outlive it, and kubelet's image GC only picks unused images.
func (s *Service) Remove(ctx context.Context, refOrID string) error {
	img, err := s.store.resolve(refOrID)
	if errdefs.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	ctx = s.withNamespace(ctx)
	is := s.client.ImageService()
	remove := func(n string, opts ...images.DeleteOpt) error {
		if err := is.Delete(ctx, n, opts...); err != nil && !errdefs.IsNotFound(err) {
			return fmt.Errorf("remove image %s (%s): %w", img.ID, n, err)
		}
		s.unindexed(n)
		return nil
	}
	// Every name but the last at once; the last goes synchronously, so
	// that containerd's GC has freed the content and snapshots when
	// RemoveImage returns, as kubelet's image GC expects to see the space
	// back.
	names := img.References
	if len(names) == 0 {
		return nil // the index keeps no image without a name
	}
	last := names[len(names)-1]
	errs := make(chan error, len(names)-1)
	for _, n := range names[:len(names)-1] {
		go func() { errs <- remove(n) }()
	}
	var all []error
	for range names[:len(names)-1] {
		all = append(all, <-errs)
	}
	if err := errors.Join(all...); err != nil {
		return err
	}
	if err := remove(last, images.SynchronousDelete()); err != nil {
		return err
	}
	s.log.Info("removed image", "id", img.ID, "names", img.References)
	return nil
}
