//go:build !linux

package netns

import (
	"fmt"

	"github.com/containerd/errdefs"
	"github.com/opencontainers/runtime-spec/specs-go"
)

// Network namespaces are a Linux kernel feature; Berth's sandboxes only run
// on Linux. These stubs let the rest of Berth build (and its pure-logic
// tests run) on a developer's other OS.

var errNoNetNS = fmt.Errorf("network namespaces need Linux: %w", errdefs.ErrNotImplemented)

// Create is not available off Linux.
func Create(dir, id string) (string, error) { return "", errNoNetNS }

// CreateInUserNS is not available off Linux.
func CreateInUserNS(dir, id string, uids, gids specs.LinuxIDMapping) (string, error) {
	return "", errNoNetNS
}

// PinUserNS is not available off Linux.
func PinUserNS(netnsPath, dst string) error { return errNoNetNS }

// Remove is not available off Linux.
func Remove(path string) error { return errNoNetNS }

// Exists is not available off Linux.
func Exists(path string) (bool, error) { return false, errNoNetNS }

// BringUpLoopback is not available off Linux.
func BringUpLoopback(path string) error { return errNoNetNS }

// List is not available off Linux.
func List(dir string) ([]string, error) { return nil, errNoNetNS }

// CreatePod is not available off Linux.
func CreatePod(Pod) error { return errNoNetNS }
