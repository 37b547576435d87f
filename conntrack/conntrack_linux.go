package conntrack

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	vnetns "github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Cleaner deletes conntrack entries of one network namespace.
type Cleaner struct {
	h *netlink.Handle
}

// New returns a Cleaner for the namespace berthd runs in: the node's.
func New() (*Cleaner, error) {
	h, err := netlink.NewHandle(unix.NETLINK_NETFILTER)
	if err != nil {
		return nil, fmt.Errorf("open conntrack netlink socket: %w", err)
	}
	return &Cleaner{h: h}, nil
}

// NewAt returns a Cleaner for the namespace pinned at path. The netlink
// socket is opened there without moving any shared thread.
func NewAt(path string) (*Cleaner, error) {
	ns, err := vnetns.GetFromPath(path)
	if err != nil {
		return nil, fmt.Errorf("open network namespace %s: %w", path, err)
	}
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns, unix.NETLINK_NETFILTER)
	if err != nil {
		return nil, fmt.Errorf("open conntrack netlink socket in %s: %w", path, err)
	}
	return &Cleaner{h: h}, nil
}

// Close releases the netlink socket.
func (c *Cleaner) Close() {
	c.h.Close()
}

// Purge deletes, in one table walk per family, what PurgeIPs deletes for
// ips and what PurgeUDPHostPorts deletes for udpHostPorts.
func (c *Cleaner) Purge(ips []netip.Addr, udpHostPorts []HostPort) (uint, error) {
	byFamily, err := ipFilters(ips)
	if err != nil {
		return 0, err
	}
	portFilters, err := udpHostPortFilters(udpHostPorts)
	if err != nil {
		return 0, err
	}
	for fam, filters := range portFilters {
		byFamily[fam] = append(byFamily[fam], filters...)
	}
	return c.delete(byFamily)
}

// PurgeIPs deletes every entry, of any protocol, in which one of ips is an
// endpoint: as the original source (the pod's own connections), the
// original destination (traffic sent straight to the pod) or either end of
// the reply (traffic DNATed to the pod through a hostPort or a Service, and
// the pod's masqueraded traffic). It returns how many entries it deleted.
func (c *Cleaner) PurgeIPs(ips []netip.Addr) (uint, error) {
	byFamily, err := ipFilters(ips)
	if err != nil {
		return 0, err
	}
	return c.delete(byFamily)
}

func ipFilters(ips []netip.Addr) (map[netlink.InetFamily][]netlink.CustomConntrackFilter, error) {
	byFamily := map[netlink.InetFamily][]netlink.CustomConntrackFilter{}
	for _, ip := range ips {
		ip = ip.Unmap()
		if !ip.IsValid() {
			continue
		}
		for _, where := range []netlink.ConntrackFilterType{
			netlink.ConntrackOrigSrcIP, netlink.ConntrackOrigDstIP, netlink.ConntrackReplyAnyIP,
		} {
			f := &netlink.ConntrackFilter{}
			if err := f.AddIP(where, net.IP(ip.AsSlice())); err != nil {
				return nil, fmt.Errorf("conntrack filter for %s: %w", ip, err)
			}
			byFamily[family(ip)] = append(byFamily[family(ip)], f)
		}
	}
	return byFamily, nil
}

// PurgeUDPHostPorts deletes the UDP entries whose original destination is
// one of the host ports (on its HostIP, if set). These are the entries that
// would keep DNATing a client's datagrams to a pod that no longer exists.
func (c *Cleaner) PurgeUDPHostPorts(ports []HostPort) (uint, error) {
	byFamily, err := udpHostPortFilters(ports)
	if err != nil {
		return 0, err
	}
	return c.delete(byFamily)
}

func udpHostPortFilters(ports []HostPort) (map[netlink.InetFamily][]netlink.CustomConntrackFilter, error) {
	byFamily := map[netlink.InetFamily][]netlink.CustomConntrackFilter{}
	for _, p := range ports {
		if p.Port == 0 {
			continue
		}
		hostIP := p.HostIP.Unmap()
		families := []netlink.InetFamily{nl.FAMILY_V4, nl.FAMILY_V6}
		if hostIP.IsValid() && !hostIP.IsUnspecified() {
			families = []netlink.InetFamily{family(hostIP)}
		} else {
			hostIP = netip.Addr{}
		}
		for _, fam := range families {
			f := &netlink.ConntrackFilter{}
			err := f.AddProtocol(unix.IPPROTO_UDP)
			if err == nil {
				err = f.AddPort(netlink.ConntrackOrigDstPort, p.Port)
			}
			if err == nil && hostIP.IsValid() {
				err = f.AddIP(netlink.ConntrackOrigDstIP, net.IP(hostIP.AsSlice()))
			}
			if err != nil {
				return nil, fmt.Errorf("conntrack filter for UDP port %d: %w", p.Port, err)
			}
			byFamily[fam] = append(byFamily[fam], f)
		}
	}
	return byFamily, nil
}

// delete runs one table dump per family, matching every filter of that
// family against it.
func (c *Cleaner) delete(byFamily map[netlink.InetFamily][]netlink.CustomConntrackFilter) (uint, error) {
	var total uint
	var errs []error
	for _, fam := range []netlink.InetFamily{nl.FAMILY_V4, nl.FAMILY_V6} {
		filters := byFamily[fam]
		if len(filters) == 0 {
			continue
		}
		n, err := c.h.ConntrackDeleteFilters(netlink.ConntrackTable, fam, filters...)
		total += n
		if err != nil {
			errs = append(errs, fmt.Errorf("delete %s conntrack entries: %w", familyName(fam), err))
		}
	}
	return total, errors.Join(errs...)
}

func family(ip netip.Addr) netlink.InetFamily {
	if ip.Is4() {
		return nl.FAMILY_V4
	}
	return nl.FAMILY_V6
}

func familyName(f netlink.InetFamily) string {
	if f == nl.FAMILY_V4 {
		return "IPv4"
	}
	return "IPv6"
}
