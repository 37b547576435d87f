package cni

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/containerd/errdefs"
)

// Check runs CNI CHECK for the sandbox with the config and args of its
// ADD, asking each plugin whether what it set up is still in place.
// NotFound when the sandbox has no attachment; FailedPrecondition when its
// namespace is gone.
func (m *Manager) Check(ctx context.Context, id string) error {
	unlock, err := m.lockSandbox(ctx, id)
	if err != nil {
		return err
	}
	defer unlock()

	a, err := m.store.load(id)
	if err != nil {
		return err
	}
	if _, err := os.Stat(a.NetNS); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("network namespace %s of sandbox %s is gone: %w", a.NetNS, id, errdefs.ErrFailedPrecondition)
	}
	list, err := parseChain(a.Config)
	if err != nil {
		return fmt.Errorf("attachment record of sandbox %s holds a bad config: %w", id, err)
	}
	rt := runtimeConf(id, a.NetNS, a.IfName, a.Args, a.Capabilities)
	if err := m.cni.CheckNetworkList(ctx, list, rt); err != nil {
		return fmt.Errorf("CNI CHECK of sandbox %s on network %q: %w", id, a.Network, ctxErr(ctx, err))
	}
	return nil
}
