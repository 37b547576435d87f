//go:build !linux

package stats

import (
	"fmt"

	"github.com/containerd/errdefs"
)

// readCgroup is Linux-only: cgroups exist nowhere else.
func readCgroup(bool, string) (sample, error) {
	return sample{}, fmt.Errorf("cgroups need Linux: %w", errdefs.ErrNotImplemented)
}
