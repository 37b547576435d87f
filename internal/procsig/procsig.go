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
