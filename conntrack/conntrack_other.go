//go:build !linux

package conntrack

import (
	"fmt"
	"net/netip"

	"github.com/containerd/errdefs"
)

// Connection tracking is Linux netfilter; Berth's pods only run on Linux.
// This stub lets the rest of Berth build elsewhere.

var errNoConntrack = fmt.Errorf("conntrack needs Linux: %w", errdefs.ErrNotImplemented)

// Cleaner is not available off Linux.
type Cleaner struct{}

// New is not available off Linux.
func New() (*Cleaner, error) { return nil, errNoConntrack }

// NewAt is not available off Linux.
func NewAt(path string) (*Cleaner, error) { return nil, errNoConntrack }

// Close does nothing.
func (c *Cleaner) Close() {}

// Purge is not available off Linux.
func (c *Cleaner) Purge(ips []netip.Addr, udpHostPorts []HostPort) error {
	return errNoConntrack
}

// PurgeIPs is not available off Linux.
func (c *Cleaner) PurgeIPs(ips []netip.Addr) error { return errNoConntrack }

// PurgeUDPHostPorts is not available off Linux.
func (c *Cleaner) PurgeUDPHostPorts(ports []HostPort) error { return errNoConntrack }
