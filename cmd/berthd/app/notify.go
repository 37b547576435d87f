package app

import (
	"fmt"
	"log/slog"

	"github.com/coreos/go-systemd/v22/daemon"
	"golang.org/x/sys/unix"
)

// notify tells systemd about berthd's state when berthd runs as a
// Type=notify unit (deploy/systemd/berth.service): READY=1 is what lets
// systemd order kubelet after a runtime that answers, not one that merely
// started. Without NOTIFY_SOCKET it does nothing.
func notify(log *slog.Logger, state string) {
	if _, err := daemon.SdNotify(false, state); err != nil {
		// systemd then times the start out, which is the right outcome for
		// a unit whose readiness cannot be reported; berthd itself still
		// serves.
		log.Warn("cannot notify systemd", "state", state, "error", err)
	}
}

func notifyReady(log *slog.Logger, socket string) {
	notify(log, daemon.SdNotifyReady+"\nSTATUS=serving CRI on "+socket)
}

func notifyStopping(log *slog.Logger) {
	notify(log, daemon.SdNotifyStopping+"\nSTATUS=shutting down")
}

// notifyReloading tells systemd that berthd is re-executing exe; the new
// process image sends READY=1 once it serves. systemd wants the monotonic
// time with RELOADING=1 (sd_notify(3)).
func notifyReloading(log *slog.Logger, exe string) {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	notify(log, fmt.Sprintf("%s\nMONOTONIC_USEC=%d\nSTATUS=re-executing %s", daemon.SdNotifyReloading, ts.Nano()/1000, exe))
}
