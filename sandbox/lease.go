package sandbox

import (
	"context"
	"fmt"
	"strings"

	"github.com/containerd/containerd/v2/core/leases"
	"github.com/containerd/errdefs"
)

// Every Berth sandbox has a containerd lease, named after it, for as long
// as it exists. The rootfs snapshots of its pause and its containers are
// made under it, so containerd's garbage collector cannot take a snapshot
// between its creation and that of the container that refers to it.
// Without it, each CreateContainer would create and delete a lease of its
// own, two metadata transactions (each a disk sync) of its ~10 ms. A
// container's snapshot is removed with the container; what a failure left
// is collected once the sandbox's Remove deletes the lease.

const leasePrefix = "berth-sandbox-"

// LeaseContext returns ctx with the lease of sandbox id: the snapshots and
// containers made with it are held by that lease.
func LeaseContext(ctx context.Context, id string) context.Context {
	return leases.WithLease(ctx, leasePrefix+id)
}

// EnsureLease creates the lease of sandbox id if it is missing.
func EnsureLease(ctx context.Context, ls LeaseCreator, id string) error {
	_, err := ls.Create(ctx, leases.WithID(leasePrefix+id), leases.WithLabel(LabelKind, KindSandbox))
	if err != nil && !errdefs.IsAlreadyExists(err) {
		return fmt.Errorf("create the containerd lease of sandbox %s: %w", id, err)
	}
	return nil
}

// deleteLease deletes the lease of sandbox id; a missing one is not an
// error.
func deleteLease(ctx context.Context, ls Leases, id string) error {
	if err := ls.Delete(ctx, leases.Lease{ID: leasePrefix + id}); err != nil && !errdefs.IsNotFound(err) {
		return fmt.Errorf("delete the containerd lease of sandbox %s: %w", id, err)
	}
	return nil
}

// reconcileLeases, at recovery, creates the leases of the sandboxes that
// have none (made by a Berth that did not keep them) and deletes those of
// sandboxes that are gone (a crash during a Remove).
func (m *Manager) reconcileLeases(ctx context.Context, sandboxes []string) []error {
	ls := m.cfg.Containerd.Leases
	all, err := ls.List(ctx, fmt.Sprintf("labels.%q==%s", LabelKind, KindSandbox))
	if err != nil {
		return []error{fmt.Errorf("list containerd leases: %w", err)}
	}
	has := map[string]bool{}
	for _, l := range all {
		if id, ok := strings.CutPrefix(l.ID, leasePrefix); ok {
			has[id] = true
		}
	}
	return reconcile(ctx, sandboxes, has,
		func(ctx context.Context, id string) error { return EnsureLease(ctx, ls, id) },
		func(ctx context.Context, id string) error { return deleteLease(ctx, ls, id) })
}
