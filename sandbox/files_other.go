//go:build !linux

package sandbox

import (
	"errors"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Pod sandboxes need Linux namespaces and mounts.
var errLinuxOnly = errors.New("pod sandboxes need Linux")

func writeFiles(string, *runtimeapi.PodSandboxConfig, bool, string) error { return errLinuxOnly }
func mountShm(string) error                                               { return errLinuxOnly }
func unmountShm(string) error                                             { return errLinuxOnly }
