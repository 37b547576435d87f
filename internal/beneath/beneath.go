package beneath

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/containerd/errdefs"
)

// checkRel refuses a path that is not plainly below the directory.
func checkRel(rel string) error {
	if !filepath.IsLocal(rel) {
		return fmt.Errorf("%q is not a path below its directory: %w", rel, errdefs.ErrInvalidArgument)
	}
	return nil
}

// OpenFile opens dir/rel with os.OpenFile's flag and perm.
func OpenFile(dir, rel string, flag int, perm os.FileMode) (*os.File, error) {
	if err := checkRel(rel); err != nil {
		return nil, err
	}
	return openFile(dir, rel, flag, perm)
}

// Open opens dir/rel for reading.
func Open(dir, rel string) (*os.File, error) {
	return OpenFile(dir, rel, os.O_RDONLY, 0)
}

// MkdirAll makes dir/rel and its missing parents below dir with perm.
func MkdirAll(dir, rel string, perm os.FileMode) error {
	if rel == "." || rel == "" {
		return nil
	}
	if err := checkRel(rel); err != nil {
		return err
	}
	return mkdirAll(dir, rel, perm)
}

// Split cuts an absolute path of a file known to be below dir into dir and
// the path below it. A path not below dir is refused.
func Split(dir, path string) (string, error) {
	rel, err := filepath.Rel(dir, path)
	if err != nil {
		return "", fmt.Errorf("%s is not below %s: %w", path, dir, errdefs.ErrInvalidArgument)
	}
	if err := checkRel(rel); err != nil {
		return "", err
	}
	return rel, nil
}

func rootOpenFile(dir, rel string, flag int, perm os.FileMode) (*os.File, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	return root.OpenFile(rel, flag, perm)
}

func rootMkdirAll(dir, rel string, perm os.FileMode) error {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	return root.MkdirAll(rel, perm)
}
