package cni

import (
	"context"
	"errors"
	"fmt"

	"github.com/containerd/errdefs"
	"github.com/containernetworking/cni/libcni"
)

// Teardown detaches the sandbox with CNI DEL, using the config and args
// its ADD was given. It succeeds when there is nothing to undo, so it can
// be called after a failed Setup, twice, or for an unknown ID. When the
// namespace is gone the plugins get an empty CNI_NETNS. On error the
// record is kept and Teardown can be retried.
func (m *Manager) Teardown(ctx context.Context, id string) error {
	unlock, err := m.lockSandbox(ctx, id)
	if err != nil {
		return err
	}
	defer unlock()
	return m.teardownLocked(ctx, id)
}

func (m *Manager) teardownLocked(ctx context.Context, id string) error {
	a, err := m.store.load(id)
	switch {
	case errdefs.IsNotFound(err):
		// No record: nothing Berth started, but libcni may still have
		// cached an attachment (made by an earlier berthd, or left when the
		// record was removed and the cache was not).
	case err != nil:
		return err
	default:
		list, err := parseChain(a.Config)
		if err != nil {
			return fmt.Errorf("attachment record of sandbox %s holds a bad config: %w", id, err)
		}
		rt := runtimeConf(id, usableNetNS(a.NetNS), a.IfName, a.Args, a.Capabilities)
		if err := m.cni.DelNetworkList(ctx, list, rt); err != nil {
			return fmt.Errorf("CNI DEL of sandbox %s from network %q: %w", id, a.Network, ctxErr(ctx, err))
		}
		if err := m.store.remove(id); err != nil {
			return err
		}
	}
	return m.delCached(ctx, id)
}

// delCached runs DEL for attachments of id that only libcni's cache knows,
// each with the config it cached.
func (m *Manager) delCached(ctx context.Context, id string) error {
	cached, err := m.cni.GetCachedAttachments(id)
	if err != nil {
		return fmt.Errorf("read CNI cache: %w", err)
	}
	var errs []error
	for _, c := range cached {
		list, err := cachedChain(c)
		if err != nil {
			errs = append(errs, fmt.Errorf("cached attachment of sandbox %s to %q: %w", id, c.Network, err))
			continue
		}
		rt := runtimeConf(id, usableNetNS(c.NetNS), c.IfName, c.CniArgs, c.CapabilityArgs)
		if err := m.cni.DelNetworkList(ctx, list, rt); err != nil {
			errs = append(errs, fmt.Errorf("CNI DEL of sandbox %s from cached network %q: %w", id, c.Network, ctxErr(ctx, err)))
		}
	}
	return errors.Join(errs...)
}

// cachedChain parses what libcni cached for an attachment: a conflist, or
// a single plugin when AddNetwork was used.
func cachedChain(c *libcni.NetworkAttachment) (*libcni.NetworkConfigList, error) {
	if list, err := parseChain(c.Config); err == nil {
		return list, nil
	}
	plugin, err := libcni.NetworkPluginConfFromBytes(c.Config)
	if err != nil {
		return nil, err
	}
	return inline(&libcni.NetworkConfigList{
		Name:       c.Network,
		CNIVersion: plugin.Network.CNIVersion,
		Plugins:    []*libcni.PluginConfig{plugin},
		Bytes:      []byte(`{}`),
	})
}
