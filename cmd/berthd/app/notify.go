package app

import (
	"log/slog"

	"github.com/coreos/go-systemd/v22/daemon"
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
