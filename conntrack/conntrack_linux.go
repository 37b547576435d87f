package conntrack

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync/atomic"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	vnetns "github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// maxFlushes is how many filtered flushes a purge sends before one dump
// per family is the cheaper way. Here a flush takes about 0.4 ms (the
// kernel skips the empty buckets) and a dump 12 ms (it locks every one of
// 262144): a pod with one IP is four flushes, so up to six pods purged at
// once go by flushes.
const maxFlushes = 24

// Cleaner deletes conntrack entries of one network namespace.
type Cleaner struct {
	h *netlink.Handle
	// sock sends the filtered flushes, which netlink.Handle cannot.
	sock *nl.NetlinkSocket
	// dumpOnly is set once the kernel refused a filtered flush (before
	// Linux 6.12): every purge then dumps the table and deletes what
	// matches.
	dumpOnly atomic.Bool
}

// New returns a Cleaner for the namespace berthd runs in: the node's.
func New() (*Cleaner, error) {
	return newCleaner(vnetns.None())
}

// NewAt returns a Cleaner for the namespace pinned at path. The netlink
// sockets are opened there without moving any shared thread.
func NewAt(path string) (*Cleaner, error) {
	ns, err := vnetns.GetFromPath(path)
	if err != nil {
		return nil, fmt.Errorf("open network namespace %s: %w", path, err)
	}
	defer ns.Close()
	return newCleaner(ns)
}

func newCleaner(ns vnetns.NsHandle) (*Cleaner, error) {
	h, err := netlink.NewHandleAt(ns, unix.NETLINK_NETFILTER)
	if err != nil {
		return nil, fmt.Errorf("open conntrack netlink socket: %w", err)
	}
	sock, err := nl.GetNetlinkSocketAt(ns, vnetns.None(), unix.NETLINK_NETFILTER)
	if err == nil {
		err = sock.SetReceiveTimeout(&nl.SocketTimeoutTv)
	}
	if err != nil {
		h.Close()
		return nil, fmt.Errorf("open conntrack netlink socket: %w", err)
	}
	return &Cleaner{h: h, sock: sock}, nil
}

// Close releases the netlink sockets.
func (c *Cleaner) Close() {
	c.h.Close()
	c.sock.Close()
}

// Purge deletes what PurgeIPs deletes for ips and what PurgeUDPHostPorts
// deletes for udpHostPorts.
func (c *Cleaner) Purge(ips []netip.Addr, udpHostPorts []HostPort) error {
	return c.delete(append(ipMatches(ips), udpHostPortMatches(udpHostPorts)...))
}

// PurgeIPs deletes every entry, of any protocol, in which one of ips is an
// endpoint: as the original source (the pod's own connections), the
// original destination (traffic sent straight to the pod) or either end of
// the reply (traffic DNATed to the pod through a hostPort or a Service, and
// the pod's masqueraded traffic).
func (c *Cleaner) PurgeIPs(ips []netip.Addr) error {
	return c.delete(ipMatches(ips))
}

// PurgeUDPHostPorts deletes the UDP entries whose original destination is
// one of the host ports (on its HostIP, if set). These are the entries that
// would keep DNATing a client's datagrams to a pod that no longer exists.
func (c *Cleaner) PurgeUDPHostPorts(ports []HostPort) error {
	return c.delete(udpHostPortMatches(ports))
}

// delete deletes the entries that any of ms matches: by one filtered
// flush per match, the kernel walking its table itself, or, for many
// matches or an older kernel, by one dump per family matched here.
func (c *Cleaner) delete(ms []match) error {
	if len(ms) == 0 {
		return nil
	}
	if len(ms) <= maxFlushes && !c.dumpOnly.Load() {
		err := c.flushAll(ms)
		if !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.EOPNOTSUPP) {
			return err
		}
		// Before 6.12 the kernel reads the filter's tuple as a whole
		// entry's and refuses it. The dump below deletes every match,
		// whether flushed already or not.
		c.dumpOnly.Store(true)
	}
	return c.dumpAndDelete(ms)
}

// flushAll sends every flush, even after one failed: each deletes entries
// of its own.
func (c *Cleaner) flushAll(ms []match) error {
	var errs []error
	for _, m := range ms {
		if err := c.flush(m); err != nil {
			errs = append(errs, fmt.Errorf("flush %s conntrack entries: %w", familyName(m.family), err))
		}
	}
	return errors.Join(errs...)
}

// dumpAndDelete runs one table dump per family, matching every filter of
// that family against it.
func (c *Cleaner) dumpAndDelete(ms []match) error {
	byFamily := map[netlink.InetFamily][]netlink.CustomConntrackFilter{}
	for _, m := range ms {
		f, err := m.dumpFilter()
		if err != nil {
			return err
		}
		byFamily[m.family] = append(byFamily[m.family], f)
	}
	var errs []error
	for _, fam := range []netlink.InetFamily{nl.FAMILY_V4, nl.FAMILY_V6} {
		if filters := byFamily[fam]; len(filters) > 0 {
			if _, err := c.h.ConntrackDeleteFilters(netlink.ConntrackTable, fam, filters...); err != nil {
				errs = append(errs, fmt.Errorf("delete %s conntrack entries: %w", familyName(fam), err))
			}
		}
	}
	return errors.Join(errs...)
}

// match selects entries by the fields it sets, all of which must match.
// The addresses are the original direction's unless reply is set; proto
// and dstPort (which needs proto) are always the original direction's.
type match struct {
	family   netlink.InetFamily
	reply    bool
	src, dst netip.Addr
	proto    uint8 // 0: any
	dstPort  uint16
}

func ipMatches(ips []netip.Addr) []match {
	var ms []match
	for _, ip := range ips {
		ip = ip.Unmap()
		if !ip.IsValid() {
			continue
		}
		fam := family(ip)
		ms = append(ms,
			match{family: fam, src: ip},
			match{family: fam, dst: ip},
			match{family: fam, reply: true, src: ip},
			match{family: fam, reply: true, dst: ip},
		)
	}
	return ms
}

func udpHostPortMatches(ports []HostPort) []match {
	var ms []match
	for _, p := range ports {
		if p.Port == 0 {
			continue
		}
		hostIP := p.HostIP.Unmap()
		if hostIP.IsValid() && !hostIP.IsUnspecified() {
			ms = append(ms, match{family: family(hostIP), dst: hostIP, proto: unix.IPPROTO_UDP, dstPort: p.Port})
			continue
		}
		for _, fam := range []netlink.InetFamily{nl.FAMILY_V4, nl.FAMILY_V6} {
			ms = append(ms, match{family: fam, proto: unix.IPPROTO_UDP, dstPort: p.Port})
		}
	}
	return ms
}

// dumpFilter is m as netlink's filter for a dump.
func (m match) dumpFilter() (netlink.CustomConntrackFilter, error) {
	f := &netlink.ConntrackFilter{}
	var srcType, dstType netlink.ConntrackFilterType = netlink.ConntrackOrigSrcIP, netlink.ConntrackOrigDstIP
	if m.reply {
		srcType, dstType = netlink.ConntrackReplySrcIP, netlink.ConntrackReplyDstIP
	}
	var err error
	if m.src.IsValid() {
		err = f.AddIP(srcType, net.IP(m.src.AsSlice()))
	}
	if err == nil && m.dst.IsValid() {
		err = f.AddIP(dstType, net.IP(m.dst.AsSlice()))
	}
	if err == nil && m.proto != 0 {
		err = f.AddProtocol(m.proto)
		if err == nil && m.dstPort != 0 {
			err = f.AddPort(netlink.ConntrackOrigDstPort, m.dstPort)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("conntrack filter %+v: %w", m, err)
	}
	return f, nil
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
