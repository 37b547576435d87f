package procsig

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// Identify reads the start time of pid. Call it right after the process
// started, while it is known to be the one meant.
func Identify(pid int) (Process, error) {
	if pid <= 0 {
		return Process{}, fmt.Errorf("pid %d: %w", pid, ErrGone)
	}
	start, err := startTime(pid)
	if err != nil {
		return Process{}, err
	}
	return Process{PID: pid, Start: start}, nil
}

// Signal sends sig to p through a pidfd, once the pidfd is known to hold
// p: the start time read after opening it must be p's. ErrGone if p has
// exited. errors.ErrUnsupported for a Process never identified (the zero
// value) and where the kernel has no pidfds (before 5.3): the caller uses
// runc's kill instead.
func (p Process) Signal(sig syscall.Signal) error {
	fd, err := p.Open()
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	err = unix.PidfdSendSignal(fd, sig, nil, 0)
	if errors.Is(err, unix.ESRCH) {
		return ErrGone
	}
	if err != nil {
		return fmt.Errorf("signal %d: %w", p.PID, err)
	}
	return nil
}

// Open returns a pidfd of p, which the caller closes: a handle on the
// process that a reused PID cannot redirect (setns(2) takes it too). The
// errors are Signal's.
func (p Process) Open() (int, error) {
	if p.PID <= 0 {
		return -1, errors.ErrUnsupported
	}
	fd, err := unix.PidfdOpen(p.PID, 0)
	switch {
	case errors.Is(err, unix.ESRCH):
		return -1, ErrGone
	case errors.Is(err, unix.ENOSYS):
		return -1, errors.ErrUnsupported
	case err != nil:
		return -1, fmt.Errorf("pidfd_open %d: %w", p.PID, err)
	}
	// The pidfd now pins whichever process has the PID: if that is not p,
	// p is gone and the PID was reused.
	start, err := startTime(p.PID)
	if errors.Is(err, ErrGone) || (err == nil && start != p.Start) {
		unix.Close(fd)
		return -1, ErrGone
	}
	if err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

// Parent is the PID of p's parent, read while p runs. ErrGone if p has
// exited; errors.ErrUnsupported for a Process never identified.
func (p Process) Parent() (int, error) {
	if p.PID <= 0 {
		return 0, errors.ErrUnsupported
	}
	b, err := readStat(p.PID)
	if err != nil {
		return 0, err
	}
	ppid, err := statField(b, 4)
	if err != nil {
		return 0, err
	}
	if start, err := parseStartTime(b); err != nil || start != p.Start {
		return 0, ErrGone // another process now has the PID
	}
	return strconv.Atoi(string(ppid))
}

func startTime(pid int) (uint64, error) {
	b, err := readStat(pid)
	if err != nil {
		return 0, err
	}
	return parseStartTime(b)
}

func readStat(pid int) ([]byte, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if errors.Is(err, os.ErrNotExist) || errors.Is(err, unix.ESRCH) {
		return nil, ErrGone
	}
	return b, err
}

// parseStartTime returns field 22 of a /proc/<pid>/stat line.
func parseStartTime(stat []byte) (uint64, error) {
	f, err := statField(stat, 22)
	if err != nil {
		return 0, err
	}
	return strconv.ParseUint(string(f), 10, 64)
}

// statField returns field n (from 1) of a /proc/<pid>/stat line, n > 2.
// The command name (field 2) is in parentheses and may hold spaces and
// parentheses of its own, so fields are counted from the last ')'.
func statField(stat []byte, n int) ([]byte, error) {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return nil, fmt.Errorf("malformed /proc stat line %q", stat)
	}
	// After ')': field 3 (state) is the first.
	fields := bytes.Fields(stat[i+1:])
	if len(fields) <= n-3 {
		return nil, fmt.Errorf("malformed /proc stat line %q", stat)
	}
	return fields[n-3], nil
}
