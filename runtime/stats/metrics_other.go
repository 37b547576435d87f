//go:build !linux

package stats

import (
	"fmt"

	"github.com/containerd/errdefs"
)

// readMetrics is Linux-only: cgroups exist nowhere else.
func readMetrics(bool, string) (reading, error) {
	return reading{}, fmt.Errorf("cgroups need Linux: %w", errdefs.ErrNotImplemented)
}

// statFS is Linux-only, like the snapshotters it measures.
func statFS(string) (fsReading, error) {
	return fsReading{}, fmt.Errorf("statfs needs Linux: %w", errdefs.ErrNotImplemented)
}
