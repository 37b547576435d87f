package netns

import (
	"fmt"
	"path/filepath"
	"regexp"

	"github.com/containerd/errdefs"
)

// validID is what a sandbox ID may look like to become a file name under
// dir: the same rule libcni applies to container IDs, so every ID that can
// get a network can get a namespace, and no ID can escape dir.
var validID = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.\-]*$`)

// Path returns where Create pins the namespace of sandbox id under dir.
func Path(dir, id string) string {
	return filepath.Join(dir, id)
}

func validate(dir, id string) error {
	if dir == "" {
		return fmt.Errorf("netns directory is empty: %w", errdefs.ErrInvalidArgument)
	}
	if !validID.MatchString(id) {
		return fmt.Errorf("sandbox ID %q cannot name a network namespace: %w", id, errdefs.ErrInvalidArgument)
	}
	return nil
}
