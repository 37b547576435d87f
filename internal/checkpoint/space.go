package checkpoint

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"

	"github.com/containerd/errdefs"
)

// spaceMargin is left free beyond an archive's contents: a restore must
// not fill the disk other pods write to.
const spaceMargin = 64 << 20

// freeSpace is the bytes an unprivileged writer may still use in dir's
// filesystem (a test replaces it).
var freeSpace = statfsFree

// unpackedSize is what an archive's regular files take once unpacked,
// read from its headers alone (the file's content is skipped, by seeking
// where r can).
func unpackedSize(r io.Reader) (int64, error) {
	tr := tar.NewReader(r)
	var total int64
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return total, nil
		}
		if err != nil {
			return 0, fmt.Errorf("not a tar archive: %w: %w", err, errdefs.ErrInvalidArgument)
		}
		if hdr.Typeflag == tar.TypeReg {
			if hdr.Size < 0 || total+hdr.Size < total {
				return 0, fmt.Errorf("entry %q has a bad size: %w", hdr.Name, errdefs.ErrInvalidArgument)
			}
			total += hdr.Size
		}
	}
}

// checkSpace refuses to unpack size bytes into dir unless they fit with
// spaceMargin to spare.
func checkSpace(dir string, size int64) error {
	free, err := freeSpace(dir)
	if err != nil {
		return fmt.Errorf("free space in %s: %w", dir, err)
	}
	if uint64(size)+spaceMargin > free {
		return fmt.Errorf("the checkpoint unpacks to %d MiB, and %s has %d MiB free (%d MiB kept spare): %w",
			size>>20, dir, free>>20, spaceMargin>>20, errdefs.ErrResourceExhausted)
	}
	return nil
}
