package sandbox

import (
	"context"
	"fmt"
	"time"

	"github.com/containerd/containerd/v2/core/sandbox"
	"github.com/containerd/errdefs"
)

// Every Berth sandbox has a record in containerd's sandbox store, under
// the sandbox's ID, which is also its pause task's. A container whose
// SandboxID names a sandbox containerd knows gets its task in the shim of
// the task with that ID, the pod's shim, found in containerd's memory
// (containerd's ShimManager.Start). Without the record containerd runs
// the shim binary for every container task only to learn that shim's
// address: about 10 ms of each StartContainer. The record holds nothing
// else; containerd's sandbox controllers never see it, since Berth drives
// the pause task itself.

// createRecord creates the containerd sandbox record of sandbox id, whose
// pause runs in containerd runtime runtimeType.
func (m *Manager) createRecord(ctx context.Context, id, runtimeType string) error {
	now := time.Now().UTC()
	_, err := m.cfg.Containerd.Sandboxes.Create(ctx, sandbox.Sandbox{
		ID:        id,
		Labels:    map[string]string{LabelKind: KindSandbox},
		Runtime:   sandbox.RuntimeOpts{Name: runtimeType},
		CreatedAt: now,
		UpdatedAt: now,
	})
	if err != nil && !errdefs.IsAlreadyExists(err) {
		return fmt.Errorf("create the containerd sandbox record: %w", err)
	}
	return nil
}

// deleteRecord deletes it; a missing record is not an error.
func (m *Manager) deleteRecord(ctx context.Context, id string) error {
	if err := m.cfg.Containerd.Sandboxes.Delete(ctx, id); err != nil && !errdefs.IsNotFound(err) {
		return fmt.Errorf("delete the containerd sandbox record: %w", err)
	}
	return nil
}

// reconcileRecords, at recovery, creates the records of the sandboxes
// that have none (made by a Berth that did not keep them) and deletes the
// records of sandboxes that are gone (a crash between a pause container's
// removal and its record's). runtimes holds each sandbox's containerd
// runtime, as its pause container records it.
func (m *Manager) reconcileRecords(ctx context.Context, sandboxes []string, runtimes map[string]string) []error {
	records, err := m.cfg.Containerd.Sandboxes.List(ctx, fmt.Sprintf("labels.%q==%s", LabelKind, KindSandbox))
	if err != nil {
		return []error{fmt.Errorf("list containerd sandbox records: %w", err)}
	}
	has := map[string]bool{}
	for _, r := range records {
		has[r.ID] = true
	}
	create := func(ctx context.Context, id string) error { return m.createRecord(ctx, id, runtimes[id]) }
	return reconcile(ctx, sandboxes, has, create, m.deleteRecord)
}

// reconcile makes what sandbox IDs have match the sandboxes: create for
// each sandbox missing from has, remove for each ID in has that is no
// sandbox's. It goes on past errors and returns them all.
func reconcile(ctx context.Context, sandboxes []string, has map[string]bool, create, remove func(context.Context, string) error) []error {
	var errs []error
	for _, id := range sandboxes {
		if has[id] {
			delete(has, id)
			continue
		}
		if err := create(ctx, id); err != nil {
			errs = append(errs, fmt.Errorf("sandbox %s: %w", id, err))
		}
	}
	for id := range has {
		if err := remove(ctx, id); err != nil {
			errs = append(errs, fmt.Errorf("sandbox %s: %w", id, err))
		}
	}
	return errs
}
