package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// prSetChildSubreaper is PR_SET_CHILD_SUBREAPER from <linux/prctl.h>; the
// syscall package does not name it.
const prSetChildSubreaper = 36

// pause blocks until SIGINT or SIGTERM, reaping children as they exit.
//
// As PID 1 of a PID namespace the kernel already hands us every orphan.
// When we are not PID 1 (a pod in the host's PID namespace, or a test
// that runs us directly) we ask to be a child subreaper, so orphans
// started below us still come to us and not to a host init.
func pause(stderr io.Writer) error {
	if os.Getpid() != 1 {
		if _, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, 1, 0); errno != 0 {
			// Not fatal: the sandbox still works, orphans just reparent
			// elsewhere.
			fmt.Fprintf(stderr, "berth-pause: cannot become a child subreaper: %v\n", errno)
		}
	}

	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)

	// A child may have exited before Notify took effect; reap once now so
	// its SIGCHLD is not lost.
	if err := reapAll(); err != nil {
		return err
	}
	for sig := range sigs {
		switch sig {
		case syscall.SIGCHLD:
			if err := reapAll(); err != nil {
				return err
			}
		default:
			return nil
		}
	}
	return nil
}

// reapAll collects every child that has exited, without blocking. SIGCHLD
// is not queued per child, so one signal may stand for many exits.
func reapAll() error {
	for {
		var status syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &status, syscall.WNOHANG, nil)
		switch {
		case errors.Is(err, syscall.EINTR):
			continue
		case errors.Is(err, syscall.ECHILD):
			return nil
		case err != nil:
			return fmt.Errorf("wait4: %w", err)
		case pid <= 0:
			return nil
		}
	}
}
