package cni

import (
	"context"
	"errors"
	"fmt"

	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/cni/pkg/types"
)

// GC removes every attachment whose sandbox is not in live: it runs DEL
// for each such attachment Berth recorded or libcni cached (with its own
// config), then CNI GC on the current network (cniVersion >= 1.1.0), which
// lets plugins that implement it drop state for attachments nobody knows
// about any more.
//
// live must list every sandbox that may have a network, ready or not; an
// empty live means every attachment is stale. GC excludes Setup, Check and
// Teardown while it runs; call it once recovery has rebuilt the sandbox
// list, before serving RunPodSandbox. Errors are collected: one bad
// attachment does not stop the others.
func (m *Manager) GC(ctx context.Context, live []string) error {
	m.gcMu.Lock()
	defer m.gcMu.Unlock()

	valid := make(map[string]bool, len(live))
	for _, id := range live {
		valid[id] = true
	}

	stale := map[string]bool{}
	recorded, err := m.store.ids()
	if err != nil {
		return err
	}
	for _, id := range recorded {
		stale[id] = !valid[id]
	}
	cached, err := m.cni.GetCachedAttachments("")
	if err != nil {
		return fmt.Errorf("read CNI cache: %w", err)
	}
	for _, c := range cached {
		stale[c.ContainerID] = !valid[c.ContainerID]
	}

	var errs []error
	for id, isStale := range stale {
		if !isStale {
			continue
		}
		if err := m.teardownLocked(ctx, id); err != nil {
			errs = append(errs, err)
		}
	}

	n, err := m.network()
	if err != nil {
		// No config: no plugin to ask. Stale attachments were handled above
		// with their own configs.
		return errors.Join(errs...)
	}
	attachments := make([]types.GCAttachment, 0, len(live))
	for _, id := range live {
		attachments = append(attachments, types.GCAttachment{ContainerID: id, IfName: m.ifName})
	}
	if err := m.cni.GCNetworkList(ctx, n.list, &libcni.GCArgs{ValidAttachments: attachments}); err != nil {
		errs = append(errs, fmt.Errorf("CNI GC of network %q: %w", n.list.Name, ctxErr(ctx, err)))
	}
	return errors.Join(errs...)
}
