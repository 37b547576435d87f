package cni

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/containerd/errdefs"
	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/cni/pkg/invoke"
	"github.com/containernetworking/cni/pkg/version"
)

// Manager runs CNI for pod sandboxes. It is safe for concurrent use.
type Manager struct {
	ifName   string
	keepIdle bool
	binDir   []string
	cni      *libcni.CNIConfig
	store    attachmentStore
	locks    idLocks

	// gcMu is held shared by Setup, Check and Teardown and exclusively by
	// GC, so GC never mistakes a sandbox being set up for a stale one.
	gcMu sync.RWMutex

	confMu sync.Mutex // guards conf; never held while a plugin runs
	conf   confDir
}

// New returns a Manager. It reads nothing yet: a missing or empty ConfDir
// is a normal state of a fresh node, reported by Ready.
func New(cfg Config) (*Manager, error) {
	switch {
	case cfg.ConfDir == "":
		return nil, fmt.Errorf("cni: ConfDir is empty: %w", errdefs.ErrInvalidArgument)
	case len(cfg.BinDirs) == 0:
		return nil, fmt.Errorf("cni: no BinDirs: %w", errdefs.ErrInvalidArgument)
	case cfg.StateDir == "":
		return nil, fmt.Errorf("cni: StateDir is empty: %w", errdefs.ErrInvalidArgument)
	}
	ifName := cfg.IfName
	if ifName == "" {
		ifName = "eth0"
	}
	m := &Manager{
		ifName:   ifName,
		keepIdle: cfg.KeepIdlePlugins,
		binDir:   cfg.BinDirs,
		// An explicit Exec: libcni creates its default lazily, on every
		// call, unsynchronised, which races when sandboxes are set up in
		// parallel.
		cni: libcni.NewCNIConfigWithCacheDir(cfg.BinDirs, filepath.Join(cfg.StateDir, "cache"), &invoke.DefaultExec{
			RawExec:       &invoke.RawExec{Stderr: os.Stderr},
			PluginDecoder: version.PluginDecoder{},
		}),
		store: attachmentStore{dir: filepath.Join(cfg.StateDir, "attachments")},
		conf:  confDir{dir: cfg.ConfDir},
	}
	// Half-written records from a crash mid-save; the rename never happened,
	// so no ADD ran for them.
	leftovers, _ := filepath.Glob(filepath.Join(m.store.dir, ".tmp-*"))
	for _, f := range leftovers {
		_ = os.Remove(f)
	}
	return m, nil
}

// network returns the current network config, re-reading the directory
// if it changed.
func (m *Manager) network() (*network, error) {
	m.confMu.Lock()
	defer m.confMu.Unlock()
	return m.conf.current()
}

// Ready says whether pods can be networked now, without running any
// plugin: there is a valid network config and every plugin it names is in
// BinDirs. Its error is the NetworkReady reason, for example "no network
// config found in /etc/cni/net.d".
func (m *Manager) Ready() error {
	n, err := m.network()
	if err != nil {
		return err
	}
	for _, p := range n.list.Plugins {
		if _, err := invoke.FindInPath(p.Network.Type, m.binDir); err != nil {
			return fmt.Errorf("network %q (%s): plugin %q not found in %v: %w",
				n.list.Name, n.file, p.Network.Type, m.binDir, errdefs.ErrFailedPrecondition)
		}
	}
	return nil
}

// Status is Ready plus the CNI STATUS verb, which asks each plugin whether
// it can take ADDs (for cniVersion 1.1.0 configs; older ones skip it).
func (m *Manager) Status(ctx context.Context) error {
	if err := m.Ready(); err != nil {
		return err
	}
	n, err := m.network()
	if err != nil {
		return err
	}
	if err := m.cni.GetStatusNetworkList(ctx, n.list); err != nil {
		return fmt.Errorf("network %q (%s) is not ready: %w", n.list.Name, n.file, ctxErr(ctx, err))
	}
	return nil
}

// ctxErr puts the context's error in the chain of a plugin failure. A
// plugin killed at the deadline only says "signal: killed"; callers (the
// CRI edge) need to see DeadlineExceeded or Canceled.
func ctxErr(ctx context.Context, err error) error {
	if ce := ctx.Err(); ce != nil && !errors.Is(err, ce) {
		return fmt.Errorf("%w: %w", ce, err)
	}
	return err
}
