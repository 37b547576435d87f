package procsig

import "errors"

// Process names one process: its PID, and its start time in clock ticks
// after boot (field 22 of /proc/<pid>/stat). runc guards its kill the same
// way: a PID alone may have been reused by the time it is signalled.
type Process struct {
	PID   int
	Start uint64
}

// ErrGone says that the process has exited (or its PID now names another
// process): there is nothing to signal.
var ErrGone = errors.New("process has exited")

// Policy says whether berthd signals processes directly. Off is berthd's
// [shortcuts] pidfd_signals = false.
type Policy struct{ Off bool }

// Identify names pid for a direct signal, as Identify does: call it right
// after the process started. With Off, or for a process already gone, it
// returns the zero Process, whose Signal answers errors.ErrUnsupported, so
// the caller signals through containerd.
func (p Policy) Identify(pid uint32) Process {
	if p.Off {
		return Process{}
	}
	proc, _ := Identify(int(pid))
	return proc
}
