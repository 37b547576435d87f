package portmap

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/containerd/errdefs"
)

// Protocol is a hostPort's L4 protocol.
type Protocol string

// The protocols CRI names, spelt as it spells them.
const (
	TCP  Protocol = "TCP"
	UDP  Protocol = "UDP"
	SCTP Protocol = "SCTP"
)

// PortMapping is one hostPort a sandbox asks for, as CRI gives it.
type PortMapping struct {
	Protocol Protocol // any case; empty means TCP
	HostIP   string   // empty means every address
	HostPort int32    // 0 means no host port, and is ignored
}

// Port is a normalised reservation key.
type Port struct {
	Protocol Protocol
	HostIP   netip.Addr // the zero Addr means every address of both families
	Port     uint16
}

func (p Port) String() string {
	if !p.HostIP.IsValid() {
		return fmt.Sprintf("%s *:%d", p.Protocol, p.Port)
	}
	return fmt.Sprintf("%s %s", p.Protocol, netip.AddrPortFrom(p.HostIP, p.Port))
}

// conflicts says whether two reservations would compete for traffic.
func (p Port) conflicts(q Port) bool {
	if p.Protocol != q.Protocol || p.Port != q.Port {
		return false
	}
	return !p.HostIP.IsValid() || !q.HostIP.IsValid() || p.HostIP == q.HostIP
}

// normalize turns CRI mappings into reservation keys, dropping mappings
// without a host port, and refuses a request that maps one port twice.
func normalize(ports []PortMapping) ([]Port, error) {
	var out []Port
	for _, pm := range ports {
		if pm.HostPort == 0 {
			continue
		}
		if pm.HostPort < 0 || pm.HostPort > 65535 {
			return nil, fmt.Errorf("hostPort %d is out of range: %w", pm.HostPort, errdefs.ErrInvalidArgument)
		}
		p := Port{Port: uint16(pm.HostPort)}
		switch proto := Protocol(strings.ToUpper(string(pm.Protocol))); proto {
		case "":
			p.Protocol = TCP
		case TCP, UDP, SCTP:
			p.Protocol = proto
		default:
			return nil, fmt.Errorf("hostPort %d has protocol %q: %w", pm.HostPort, pm.Protocol, errdefs.ErrInvalidArgument)
		}
		if pm.HostIP != "" {
			ip, err := netip.ParseAddr(pm.HostIP)
			if err != nil {
				return nil, fmt.Errorf("hostIP %q of hostPort %d: %w", pm.HostIP, pm.HostPort, errdefs.ErrInvalidArgument)
			}
			if ip = ip.Unmap(); !ip.IsUnspecified() {
				p.HostIP = ip
			}
		}
		for _, q := range out {
			if p.conflicts(q) {
				return nil, fmt.Errorf("the pod maps %s and %s, which overlap: %w", q, p, errdefs.ErrInvalidArgument)
			}
		}
		out = append(out, p)
	}
	return out, nil
}
