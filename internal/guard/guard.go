// Package guard keeps a panic on a goroutine that no request's recovery
// covers (work detached from a CRI call so that it outlives kubelet's
// deadline, a shared image pull, an exec's cleanup) from taking berthd
// down with every pod's runtime.
//
// Contract: Recover, deferred first on such a goroutine, stops the panic,
// logs it with the goroutine's stack, and hands fail an error of class
// errdefs.ErrInternal, so that the operation the goroutine served fails
// and its waiters get an answer. What the goroutine had half-made is left
// as the panic found it.
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
