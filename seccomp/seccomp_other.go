//go:build !linux

package seccomp

import (
	"context"
	"fmt"

	"github.com/containerd/containerd/v2/core/containers"
	"github.com/containerd/containerd/v2/pkg/oci"
	"github.com/containerd/errdefs"
)

// seccomp filters, and the profile library that builds them, exist on
// Linux only: elsewhere every profile but Unconfined fails.

func (r Resolver) read(path string) ([]byte, error) {
	return nil, fmt.Errorf("seccomp profile %q: seccomp needs Linux: %w", path, errdefs.ErrNotImplemented)
}

func withDefaultProfile(context.Context, oci.Client, *containers.Container, *oci.Spec) error {
	return fmt.Errorf("seccomp needs Linux: %w", errdefs.ErrNotImplemented)
}

func withProfile(path string, _ []byte) oci.SpecOpts {
	return func(context.Context, oci.Client, *containers.Container, *oci.Spec) error {
		return fmt.Errorf("seccomp profile %q: seccomp needs Linux: %w", path, errdefs.ErrNotImplemented)
	}
}

func withSandboxProfile(context.Context, oci.Client, *containers.Container, *oci.Spec) error {
	return fmt.Errorf("seccomp needs Linux: %w", errdefs.ErrNotImplemented)
}

func withPauseProfile(context.Context, oci.Client, *containers.Container, *oci.Spec) error {
	return fmt.Errorf("seccomp needs Linux: %w", errdefs.ErrNotImplemented)
}
