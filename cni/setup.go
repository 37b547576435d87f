package cni

import (
	"context"
	"fmt"

	"github.com/containerd/errdefs"
)

// Setup attaches the sandbox to the network with CNI ADD and returns its
// IPs. Whatever Setup returns, the caller must later call Teardown for
// sn.ID: a chain that failed halfway may hold an IP, a veth or iptables
// rules, and Teardown is what releases them (see the package doc).
//
// Errors: InvalidArgument for a bad request; FailedPrecondition when there
// is no usable network config; AlreadyExists when the sandbox already has an
// attachment that was not torn down; otherwise the plugin's error.
func (m *Manager) Setup(ctx context.Context, sn SandboxNetwork) (*Result, error) {
	if err := validateID(sn.ID); err != nil {
		return nil, err
	}
	if sn.NetNSPath == "" {
		return nil, fmt.Errorf("sandbox %s has no network namespace path: %w", sn.ID, errdefs.ErrInvalidArgument)
	}
	args, err := cniArgs(sn)
	if err != nil {
		return nil, err
	}
	caps, err := capabilityArgs(sn)
	if err != nil {
		return nil, err
	}

	unlock, err := m.lockSandbox(ctx, sn.ID)
	if err != nil {
		return nil, err
	}
	defer unlock()

	if m.store.exists(sn.ID) {
		return nil, fmt.Errorf("sandbox %s is already attached; tear it down first: %w", sn.ID, errdefs.ErrAlreadyExists)
	}
	n, err := m.network()
	if err != nil {
		return nil, err
	}
	list := n.list
	if !m.keepIdle {
		list, err = withoutIdlePlugins(n.list, caps)
	}
	if err != nil {
		return nil, fmt.Errorf("network %q (%s): %w", n.list.Name, n.file, err)
	}

	// The record goes to disk before ADD runs: ADD can allocate and still
	// fail, and libcni caches nothing for a failed ADD, so this record is
	// the only way Teardown can find what to DEL.
	err = m.store.save(attachment{
		ID:           sn.ID,
		IfName:       m.ifName,
		NetNS:        sn.NetNSPath,
		Network:      n.list.Name,
		ConfFile:     n.file,
		Config:       list.Bytes,
		Args:         args,
		Capabilities: caps,
	})
	if err != nil {
		return nil, err
	}

	rt := runtimeConf(sn.ID, sn.NetNSPath, m.ifName, args, caps)
	res, err := m.cni.AddNetworkList(ctx, list, rt)
	if err != nil {
		return nil, fmt.Errorf("CNI ADD of sandbox %s to network %q (%s): %w", sn.ID, n.list.Name, n.file, ctxErr(ctx, err))
	}
	out, err := newResult(n.list.Name, res, m.ifName)
	if err != nil {
		return nil, err
	}
	if len(out.IPs) == 0 {
		return out, fmt.Errorf("network %q gave sandbox %s no IP on %s: %w", n.list.Name, sn.ID, m.ifName, errdefs.ErrFailedPrecondition)
	}
	return out, nil
}
