//go:build !linux

package cri

import (
	"fmt"
	"net"

	"github.com/containerd/errdefs"
)

// Listen is Linux-only: Berth runs Linux containers with runc.
func Listen(path string) (net.Listener, error) {
	return nil, fmt.Errorf("berthd runs only on Linux: %w", errdefs.ErrNotImplemented)
}
