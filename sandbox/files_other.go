//go:build !linux

package sandbox

import (
	"errors"
)

// Pod sandboxes need Linux namespaces and mounts.
var errLinuxOnly = errors.New("pod sandboxes need Linux")

func writeFiles(*Metadata, string) error { return errLinuxOnly }
func mountShm(string) error              { return errLinuxOnly }
func unmountShm(string) error            { return errLinuxOnly }
