//go:build !linux

package main

import (
	"errors"
	"io"
)

// pause needs Linux: PID namespaces, child subreapers and wait4 reaping
// are what a sandbox's first process is for, and only Linux has them.
func pause(io.Writer) error {
	return errors.New("berth-pause runs only on Linux")
}
