//go:build !linux

package procsig

import (
	"errors"
	"syscall"
)

// Identify needs /proc and pidfds: Linux only.
func Identify(int) (Process, error) { return Process{}, errors.ErrUnsupported }

// Signal needs pidfds: Linux only. Callers fall back to runc's kill.
func (Process) Signal(syscall.Signal) error { return errors.ErrUnsupported }

// Open needs pidfds: Linux only.
func (Process) Open() (int, error) { return -1, errors.ErrUnsupported }

// Parent needs /proc: Linux only.
func (Process) Parent() (int, error) { return 0, errors.ErrUnsupported }
