package portmap

import (
	"fmt"
	"sync"

	"github.com/containerd/errdefs"
)

// Table is the node's hostPort reservations. It is safe for concurrent use.
type Table struct {
	mu     sync.Mutex
	owners map[Port]string   // reservation -> sandbox ID
	held   map[string][]Port // sandbox ID -> its reservations
	probe  func(Port) error
}

// Option configures a Table.
type Option func(*Table)

// WithHostProbe replaces the check for processes bound to a port; nil
// turns it off. For tests, and for nodes where berthd does not run in the
// node's network namespace.
func WithHostProbe(probe func(Port) error) Option {
	return func(t *Table) { t.probe = probe }
}

// New returns an empty Table that checks the node with ProbeHost.
func New(opts ...Option) *Table {
	t := &Table{
		owners: map[Port]string{},
		held:   map[string][]Port{},
		probe:  ProbeHost,
	}
	for _, o := range opts {
		o(t)
	}
	return t
}

// Reserve reserves every hostPort of ports for sandboxID, or none of them.
// Ports the sandbox already holds are not conflicts, so a retried Reserve
// succeeds.
func (t *Table) Reserve(sandboxID string, ports []PortMapping) error {
	return t.reserve(sandboxID, ports, t.probe)
}

// Restore re-reserves a sandbox's ports after a restart. It skips the host
// check: the sandbox's DNAT rules, not a socket, hold those ports, and a
// process that bound one meanwhile does not make the running pod invalid.
func (t *Table) Restore(sandboxID string, ports []PortMapping) error {
	return t.reserve(sandboxID, ports, nil)
}

func (t *Table) reserve(sandboxID string, ports []PortMapping, probe func(Port) error) error {
	if sandboxID == "" {
		return fmt.Errorf("reserve hostPorts: empty sandbox ID: %w", errdefs.ErrInvalidArgument)
	}
	want, err := normalize(ports)
	if err != nil {
		return err
	}

	t.mu.Lock()
	defer t.mu.Unlock()

	var add []Port
	for _, p := range want {
		mine := false
		for held, owner := range t.owners {
			if !p.conflicts(held) {
				continue
			}
			if owner != sandboxID {
				return fmt.Errorf("hostPort %s is already used by pod sandbox %s (as %s): %w", p, owner, held, errdefs.ErrAlreadyExists)
			}
			if held == p {
				mine = true
			}
		}
		if !mine {
			add = append(add, p)
		}
	}
	if probe != nil {
		for _, p := range add {
			if err := probe(p); err != nil {
				return err
			}
		}
	}
	for _, p := range add {
		t.owners[p] = sandboxID
		t.held[sandboxID] = append(t.held[sandboxID], p)
	}
	return nil
}

// Release frees every port of sandboxID. Unknown IDs are fine.
func (t *Table) Release(sandboxID string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, p := range t.held[sandboxID] {
		delete(t.owners, p)
	}
	delete(t.held, sandboxID)
}

// Held returns the ports sandboxID holds.
func (t *Table) Held(sandboxID string) []Port {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]Port(nil), t.held[sandboxID]...)
}
