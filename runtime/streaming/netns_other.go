//go:build !linux

package streaming

import (
	"fmt"

	"github.com/containerd/errdefs"
)

// inNetNS is Linux-only: network namespaces exist nowhere else.
func inNetNS(string, func() error) error {
	return fmt.Errorf("network namespaces need Linux: %w", errdefs.ErrNotImplemented)
}
