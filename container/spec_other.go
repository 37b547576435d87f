//go:build !linux

package container

import (
	"context"
	"fmt"

	"github.com/containerd/containerd/v2/core/containers"
	"github.com/containerd/containerd/v2/pkg/oci"
	"github.com/containerd/errdefs"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/berth-cri/berth/sandbox"
)

// Devices and capabilities are read from the host's /dev and the process's
// capability sets, which only Linux has: elsewhere these options fail.

func notOnThisOS(_ context.Context, _ oci.Client, _ *containers.Container, _ *oci.Spec) error {
	return fmt.Errorf("privileged containers, devices and capability ALL need Linux: %w", errdefs.ErrNotImplemented)
}

func privilegedOpts() []oci.SpecOpts { return []oci.SpecOpts{notOnThisOS} }

func withDevice(string, string, string) oci.SpecOpts { return notOnThisOS }

var withAllCapabilities oci.SpecOpts = notOnThisOS

// sandboxMounts: pod files are written on Linux only.
func sandboxMounts(*sandbox.Sandbox, bool) []*runtimeapi.Mount { return nil }
