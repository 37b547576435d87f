package conntrack

import "net/netip"

// HostPort is a UDP host port a pod mapped.
type HostPort struct {
	Port uint16
	// HostIP is the host address the port was mapped on; the zero Addr (or
	// an unspecified one, 0.0.0.0 or ::) means every address of both
	// families.
	HostIP netip.Addr
}
