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
