package guard

import (
	"fmt"
	"log/slog"
	"runtime/debug"

	"github.com/containerd/errdefs"
)

// Recover must be deferred directly: `defer guard.Recover(log, what, fail)`.
// fail may be nil when nobody waits for the goroutine.
func Recover(log *slog.Logger, what string, fail func(error)) {
	r := recover()
	if r == nil {
		return
	}
	if log == nil {
		log = slog.Default()
	}
	log.Error("panic on a detached goroutine; its operation fails, berthd goes on", "work", what, "panic", r, "stack", string(debug.Stack()))
	if fail != nil {
		fail(fmt.Errorf("%s: internal error (panic: %v): %w", what, r, errdefs.ErrInternal))
	}
}
