package images

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Preload imports every image archive in dir (each regular file whose
// name does not start with a dot, in lexical order), as Import does, so
// that images built into a node's disk are there before kubelet asks for
// them. An archive that fails is logged and skipped; the others are still
// imported. It gives up on what is left after timeout, so a huge or
// stalled archive cannot hold up berthd's start for ever. A missing
// directory has nothing to preload. The error joins every failure.
func (s *Service) Preload(ctx context.Context, dir string, timeout time.Duration) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("preload images: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var errs []error
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") || !e.Type().IsRegular() {
			continue
		}
		path := filepath.Join(dir, e.Name())
		start := time.Now()
		imgs, err := s.importFile(ctx, path)
		if err != nil {
			s.log.Error("cannot preload image archive; skipping it", "archive", path, "error", err)
			errs = append(errs, fmt.Errorf("%s: %w", path, err))
			continue
		}
		var names []string
		for _, img := range imgs {
			names = append(names, img.RepoTags()...)
		}
		slices.Sort(names)
		s.log.Info("preloaded image archive", "archive", path, "images", names, "took", time.Since(start).Round(time.Millisecond))
	}
	return errors.Join(errs...)
}

func (s *Service) importFile(ctx context.Context, path string) ([]Image, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return s.Import(ctx, f, ImportOptions{})
}
