package conntrack

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/vishvananda/netlink"
	vnetns "github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/berth-cri/berth/sandbox/netns"
)

// Every test works in a network namespace of its own, so neither the
// entries it makes nor the ones it purges are the machine's.
func testNetNS(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates a network namespace and writes its conntrack table")
	}
	dir := t.TempDir()
	path, err := netns.Create(dir, "ct")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = netns.Remove(path) })
	if err := netns.BringUpLoopback(path); err != nil {
		t.Fatal(err)
	}
	return path
}

func nlHandle(t *testing.T, path string) *netlink.Handle {
	t.Helper()
	h, err := vnetns.GetFromPath(path)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	nl, err := netlink.NewHandleAt(h)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nl.Close)
	return nl
}

// flow describes an entry as "proto src:sport>dst:dport" with the reply's
// source, which is where DNAT shows.
type flow struct {
	proto    uint8
	src      string
	sport    uint16
	dst      string
	dport    uint16
	replySrc string // empty: dst (no NAT)
}

func (f flow) String() string {
	return fmt.Sprintf("%d %s:%d>%s:%d reply-from %s", f.proto, f.src, f.sport, f.dst, f.dport, f.replySrcOr())
}

func (f flow) replySrcOr() string {
	if f.replySrc != "" {
		return f.replySrc
	}
	return f.dst
}

func (f flow) create(t *testing.T, nl *netlink.Handle) {
	t.Helper()
	src, dst, rsrc := net.ParseIP(f.src), net.ParseIP(f.dst), net.ParseIP(f.replySrcOr())
	fam := uint8(unix.AF_INET6)
	if src.To4() != nil {
		// Netlink wants 4-byte IPv4 addresses; ParseIP gives 16.
		fam = unix.AF_INET
		src, dst, rsrc = src.To4(), dst.To4(), rsrc.To4()
	}
	ct := &netlink.ConntrackFlow{
		FamilyType: fam,
		Forward:    netlink.IPTuple{Protocol: f.proto, SrcIP: src, DstIP: dst, SrcPort: f.sport, DstPort: f.dport},
		Reverse:    netlink.IPTuple{Protocol: f.proto, SrcIP: rsrc, DstIP: src, SrcPort: f.dport, DstPort: f.sport},
		TimeOut:    120,
	}
	if f.proto == unix.IPPROTO_TCP {
		ct.ProtoInfo = &netlink.ProtoInfoTCP{State: 3} // established
	}
	if err := nl.ConntrackCreate(netlink.ConntrackTable, netlink.InetFamily(fam), ct); err != nil {
		t.Fatalf("create %v: %v", f, err)
	}
}

// entries lists the namespace's flows in the flow format.
func entries(t *testing.T, nl *netlink.Handle) []string {
	t.Helper()
	var out []string
	for _, fam := range []netlink.InetFamily{unix.AF_INET, unix.AF_INET6} {
		flows, err := nl.ConntrackTableList(netlink.ConntrackTable, fam)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range flows {
			out = append(out, flow{
				proto: c.Forward.Protocol,
				src:   c.Forward.SrcIP.String(), sport: c.Forward.SrcPort,
				dst: c.Forward.DstIP.String(), dport: c.Forward.DstPort,
				replySrc: c.Reverse.SrcIP.String(),
			}.String())
		}
	}
	slices.Sort(out)
	return out
}

const (
	udp = unix.IPPROTO_UDP
	tcp = unix.IPPROTO_TCP

	pod4   = "10.234.0.5"
	pod6   = "fd00:234::5"
	node4  = "10.234.1.1" // the node's address a hostPort is mapped on
	node4b = "10.234.1.2"
	client = "10.234.2.9"
	other  = "10.234.3.3"
)

var (
	podToClient      = flow{proto: udp, src: pod4, sport: 40000, dst: client, dport: 53}
	clientToPod      = flow{proto: tcp, src: client, sport: 40001, dst: pod4, dport: 80}
	hostPortToPod    = flow{proto: udp, src: client, sport: 40002, dst: node4, dport: 30053, replySrc: pod4}
	hostPortTCPOther = flow{proto: tcp, src: client, sport: 40003, dst: node4, dport: 30053, replySrc: other}
	otherHostPort    = flow{proto: udp, src: client, sport: 40004, dst: node4, dport: 30054, replySrc: other}
	hostPortOnB      = flow{proto: udp, src: client, sport: 40005, dst: node4b, dport: 30053, replySrc: other}
	unrelated        = flow{proto: udp, src: client, sport: 40006, dst: other, dport: 53}
	pod6Out          = flow{proto: udp, src: pod6, sport: 40007, dst: "fd00:234::9", dport: 53}
)

// purgeCases are TestPurge's purges, each with the flows (of allFlows) it
// must delete and no other.
var purgeCases = []struct {
	name    string
	purge   func(*Cleaner) error
	deleted []flow
}{
	{
		name:    "pod IPv4: its own flows, flows to it, and DNATed flows",
		purge:   func(c *Cleaner) error { return c.PurgeIPs([]netip.Addr{netip.MustParseAddr(pod4)}) },
		deleted: []flow{podToClient, clientToPod, hostPortToPod},
	},
	{
		name: "dual-stack pod",
		purge: func(c *Cleaner) error {
			return c.PurgeIPs([]netip.Addr{netip.MustParseAddr(pod4), netip.MustParseAddr(pod6)})
		},
		deleted: []flow{podToClient, clientToPod, hostPortToPod, pod6Out},
	},
	{
		name:    "UDP hostPort on every address: not TCP, not other ports",
		purge:   func(c *Cleaner) error { return c.PurgeUDPHostPorts([]HostPort{{Port: 30053}}) },
		deleted: []flow{hostPortToPod, hostPortOnB},
	},
	{
		name: "UDP hostPort on one host IP",
		purge: func(c *Cleaner) error {
			return c.PurgeUDPHostPorts([]HostPort{{Port: 30053, HostIP: netip.MustParseAddr(node4b)}})
		},
		deleted: []flow{hostPortOnB},
	},
	{
		name: "a pod's IPs and its UDP hostPort at once",
		purge: func(c *Cleaner) error {
			return c.Purge([]netip.Addr{netip.MustParseAddr(pod6)}, []HostPort{{Port: 30053, HostIP: netip.MustParseAddr(node4b)}})
		},
		deleted: []flow{hostPortOnB, pod6Out},
	},
	{
		name: "more pods than filtered flushes pay for: one dump",
		purge: func(c *Cleaner) error {
			ips := []netip.Addr{netip.MustParseAddr(pod4)}
			for i := range maxFlushes / 4 {
				ips = append(ips, netip.AddrFrom4([4]byte{10, 234, 9, byte(i)}))
			}
			return c.PurgeIPs(ips)
		},
		deleted: []flow{podToClient, clientToPod, hostPortToPod},
	},
	{
		name:  "nothing to purge",
		purge: func(c *Cleaner) error { return c.PurgeIPs(nil) },
	},
}

var allFlows = []flow{podToClient, clientToPod, hostPortToPod, hostPortTCPOther, otherHostPort, hostPortOnB, unrelated, pod6Out}

// TestPurge runs every purge both ways: by the kernel's filtered flushes
// and by dumping the table, as on kernels before 6.12.
func TestPurge(t *testing.T) {
	for _, dumpOnly := range []bool{false, true} {
		for _, tc := range purgeCases {
			t.Run(fmt.Sprintf("%s/dumpOnly=%v", tc.name, dumpOnly), func(t *testing.T) {
				path := testNetNS(t)
				nl := nlHandle(t, path)
				for _, f := range allFlows {
					f.create(t, nl)
				}
				var want []string
				for _, f := range allFlows {
					if !slices.Contains(tc.deleted, f) {
						want = append(want, f.String())
					}
				}
				slices.Sort(want)

				c, err := NewAt(path)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				c.dumpOnly.Store(dumpOnly)
				if err := tc.purge(c); err != nil {
					t.Fatalf("purge: %v", err)
				}
				if got := entries(t, nl); !slices.Equal(got, want) {
					t.Errorf("entries left:\n%v\nwant:\n%v", got, want)
				}
				if !dumpOnly && kernelFlushesByFilter(t) && c.dumpOnly.Load() {
					t.Error("the kernel refused a filtered flush; purges fell back to dumping the table")
				}
			})
		}
	}
}

// kernelFlushesByFilter says whether the running kernel (6.12 or later)
// takes a filter on a conntrack flush.
func kernelFlushesByFilter(t *testing.T) bool {
	t.Helper()
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		t.Fatal(err)
	}
	var major, minor int
	if _, err := fmt.Sscanf(unix.ByteSliceToString(u.Release[:]), "%d.%d", &major, &minor); err != nil {
		t.Fatalf("kernel release %q: %v", u.Release, err)
	}
	return major > 6 || major == 6 && minor >= 12
}

// Real datagrams, not hand-made entries: a UDP flow to a hostPort-like
// port and one from a "pod" address exist, and are gone after the purge.
func TestPurgeRealUDPFlows(t *testing.T) {
	path := testNetNS(t)
	if _, err := exec.LookPath("iptables"); err != nil {
		t.Skip("needs iptables: a fresh namespace tracks no connections until a rule uses conntrack")
	}
	nl := nlHandle(t, path)
	lo, err := nl.LinkByName("lo")
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []string{pod4 + "/32", node4 + "/32", client + "/32"} {
		addr, _ := netlink.ParseAddr(a)
		if err := nl.AddrAdd(lo, addr); err != nil {
			t.Fatal(err)
		}
	}
	// The kernel registers conntrack in a namespace only once a rule needs
	// it (nf_ct_netns_get); without this, no entry would ever appear.
	err = ns.WithNetNSPath(path, func(ns.NetNS) error {
		out, err := exec.Command("iptables", "-t", "raw", "-A", "OUTPUT", "-m", "conntrack", "--ctstate", "NEW", "-j", "ACCEPT").CombinedOutput()
		if err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("enable conntrack in the test namespace: %v", err)
	}

	send := func(from string, to string, port int) {
		t.Helper()
		err := ns.WithNetNSPath(path, func(ns.NetNS) error {
			c, err := net.DialUDP("udp4", &net.UDPAddr{IP: net.ParseIP(from)}, &net.UDPAddr{IP: net.ParseIP(to), Port: port})
			if err != nil {
				return err
			}
			defer c.Close()
			_, err = c.Write([]byte("ping"))
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	send(client, node4, 30053) // a client of a UDP hostPort
	send(pod4, client, 53)     // a pod's DNS query
	send(client, node4, 30054) // another hostPort, which stays

	count := func(match func(netlink.IPTuple) bool) int {
		flows, err := nl.ConntrackTableList(netlink.ConntrackTable, unix.AF_INET)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, f := range flows {
			if f.Forward.Protocol == udp && match(f.Forward) {
				n++
			}
		}
		return n
	}
	toPort := func(p uint16) func(netlink.IPTuple) bool {
		return func(f netlink.IPTuple) bool { return f.DstPort == p }
	}
	fromPod := func(f netlink.IPTuple) bool { return f.SrcIP.Equal(net.ParseIP(pod4)) }
	if count(toPort(30053)) != 1 || count(fromPod) != 1 || count(toPort(30054)) != 1 {
		t.Fatalf("the datagrams made no conntrack entries: %v", entries(t, nl))
	}

	c, err := NewAt(path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.PurgeUDPHostPorts([]HostPort{{Port: 30053}}); err != nil {
		t.Fatal(err)
	}
	if err := c.PurgeIPs([]netip.Addr{netip.MustParseAddr(pod4)}); err != nil {
		t.Fatal(err)
	}
	if count(toPort(30053)) != 0 || count(fromPod) != 0 {
		t.Errorf("entries survived the purge: %v", entries(t, nl))
	}
	if count(toPort(30054)) != 1 {
		t.Errorf("the purge took an unrelated hostPort's entry: %v", entries(t, nl))
	}
}

func TestNewAtAMissingNamespace(t *testing.T) {
	if _, err := NewAt(filepath.Join(t.TempDir(), "gone")); err == nil {
		t.Fatal("NewAt of a missing namespace succeeded")
	}
}
