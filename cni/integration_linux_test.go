package cni

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/vishvananda/netlink"
	vnetns "github.com/vishvananda/netns"

	"github.com/berth-cri/berth/sandbox/netns"
)

// These tests run the real bridge, host-local and portmap plugins. So that
// nothing they do can touch the machine, the "node" is itself a network
// namespace the test creates: the plugins are started from a thread inside
// it (ns.WithNetNSPath), so the bridge, the host ends of the veths and the
// iptables rules all live there and die with it. Traffic only flows
// between namespaces on the test bridge.

const (
	testSubnet   = "10.233.7.0/24"
	testGateway  = "10.233.7.1"
	testBridge   = "berthtest0"
	testNetwork  = "berth-test"
	testHostPort = 18080
	podPort      = 8080
)

// node is a test-owned network namespace standing in for the host.
type node struct {
	t       *testing.T
	dir     string // namespaces live here
	path    string // the node namespace
	ipamDir string
	confDir string
	control string
	bins    []string
}

func newNode(t *testing.T) *node {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates network namespaces, a bridge and veths")
	}
	binDir := os.Getenv("BERTH_CNI_BIN_DIR")
	if binDir == "" {
		t.Skip("BERTH_CNI_BIN_DIR is not set: no CNI plugins (bridge, host-local, portmap) to run")
	}
	for _, p := range []string{"bridge", "host-local", "portmap"} {
		if _, err := os.Stat(filepath.Join(binDir, p)); err != nil {
			t.Skipf("plugin %s missing from BERTH_CNI_BIN_DIR=%s", p, binDir)
		}
	}
	if _, err := exec.LookPath("iptables"); err != nil {
		t.Skip("portmap needs the iptables command, which is not installed")
	}
	// The real host must come out as it went in.
	before := hostCNIRules(t)
	t.Cleanup(func() {
		if after := hostCNIRules(t); after != before {
			t.Errorf("the host's iptables CNI rules changed during the test:\nbefore:\n%s\nafter:\n%s", before, after)
		}
	})
	root := t.TempDir()
	n := &node{
		t:       t,
		dir:     filepath.Join(root, "netns"),
		ipamDir: filepath.Join(root, "ipam"),
		confDir: filepath.Join(root, "net.d"),
		control: filepath.Join(root, "control"),
		bins:    []string{binDir, faultPluginDir(t)},
	}
	for _, d := range []string{n.confDir, n.control} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	n.path = n.netns("node")
	if err := netns.BringUpLoopback(n.path); err != nil {
		t.Fatal(err)
	}
	return n
}

// hostCNIRules returns the iptables lines of this process's own namespace
// that mention CNI.
func hostCNIRules(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("iptables-save").Output()
	if err != nil {
		t.Fatalf("iptables-save: %v", err)
	}
	var lines []string
	for _, l := range strings.Split(string(out), "\n") {
		if strings.Contains(strings.ToLower(l), "cni") {
			lines = append(lines, l)
		}
	}
	return strings.Join(lines, "\n")
}

// netns creates a namespace that is removed when the test ends.
func (n *node) netns(id string) string {
	n.t.Helper()
	p, err := netns.Create(n.dir, id)
	if err != nil {
		n.t.Fatal(err)
	}
	n.t.Cleanup(func() {
		if err := netns.Remove(p); err != nil {
			n.t.Errorf("remove netns %s: %v", p, err)
		}
	})
	return p
}

// writeConflist writes the bridge+host-local+portmap chain, optionally
// followed by the fault plugin.
func (n *node) writeConflist(withFault bool) {
	n.t.Helper()
	fault := ""
	if withFault {
		fault = fmt.Sprintf(`,{"type":"berth-fault","controlDir":%q}`, n.control)
	}
	conf := fmt.Sprintf(`{
  "cniVersion": "1.1.0",
  "name": %q,
  "plugins": [
    {"type": "bridge", "bridge": %q, "isGateway": true, "ipMasq": false,
     "ipam": {"type": "host-local", "ranges": [[{"subnet": %q}]], "dataDir": %q}},
    {"type": "portmap", "capabilities": {"portMappings": true}}%s
  ]
}`, testNetwork, testBridge, testSubnet, n.ipamDir, fault)
	writeFile(n.t, filepath.Join(n.confDir, "10-berth-test.conflist"), conf)
}

func (n *node) manager() *Manager {
	n.t.Helper()
	m, err := New(Config{ConfDir: n.confDir, BinDirs: n.bins, StateDir: filepath.Join(filepath.Dir(n.dir), "state")})
	if err != nil {
		n.t.Fatal(err)
	}
	return m
}

// on runs fn on a locked thread inside the node, so the plugins fn starts
// are the node's.
func (n *node) on(fn func()) {
	n.t.Helper()
	if err := ns.WithNetNSPath(n.path, func(ns.NetNS) error { fn(); return nil }); err != nil {
		n.t.Fatal(err)
	}
}

func (n *node) setup(m *Manager, sn SandboxNetwork) (res *Result, err error) {
	n.on(func() { res, err = m.Setup(context.Background(), sn) })
	return res, err
}

func (n *node) teardown(m *Manager, id string) (err error) {
	n.on(func() { err = m.Teardown(context.Background(), id) })
	return err
}

// allocated lists the IPs host-local has handed out.
func (n *node) allocated() []string {
	n.t.Helper()
	ents, err := os.ReadDir(filepath.Join(n.ipamDir, testNetwork))
	if err != nil && !os.IsNotExist(err) {
		n.t.Fatal(err)
	}
	var ips []string
	for _, e := range ents {
		if _, err := netip.ParseAddr(e.Name()); err == nil {
			ips = append(ips, e.Name())
		}
	}
	return ips
}

// veths counts the host ends of pod veths in the node.
func (n *node) veths() int {
	n.t.Helper()
	h, err := vnetns.GetFromPath(n.path)
	if err != nil {
		n.t.Fatal(err)
	}
	defer h.Close()
	nl, err := netlink.NewHandleAt(h)
	if err != nil {
		n.t.Fatal(err)
	}
	defer nl.Close()
	links, err := nl.LinkList()
	if err != nil {
		n.t.Fatal(err)
	}
	count := 0
	for _, l := range links {
		if l.Type() == "veth" {
			count++
		}
	}
	return count
}

// waitVeths waits for the veth count: a namespace's veth goes away
// asynchronously when the namespace is destroyed.
func (n *node) waitVeths(want int) {
	n.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for got := n.veths(); got != want; got = n.veths() {
		if time.Now().After(deadline) {
			n.t.Fatalf("node has %d pod veths, want %d", got, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// hostportChains returns the node's iptables lines that portmap made for
// individual pods (CNI-DN-<hash> chains and the rules jumping to them).
func (n *node) hostportChains() []string {
	n.t.Helper()
	var out []byte
	var err error
	n.on(func() { out, err = exec.Command("iptables-save", "-t", "nat").Output() })
	if err != nil {
		n.t.Fatalf("iptables-save in the node: %v", err)
	}
	var lines []string
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		if strings.Contains(sc.Text(), "CNI-DN-") {
			lines = append(lines, sc.Text())
		}
	}
	return lines
}

// serve answers every TCP connection on port with greeting, from inside
// the namespace at path.
func serve(t *testing.T, path string, port int, greeting string) {
	t.Helper()
	var l net.Listener
	err := ns.WithNetNSPath(path, func(ns.NetNS) error {
		var err error
		l, err = net.Listen("tcp4", fmt.Sprintf(":%d", port))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			_, _ = io.WriteString(c, greeting)
			c.Close()
		}
	}()
}

// dial connects from inside the namespace at path and returns what the
// server said.
func dial(path, addr string) (string, error) {
	var got []byte
	err := ns.WithNetNSPath(path, func(ns.NetNS) error {
		c, err := net.DialTimeout("tcp4", addr, 2*time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(2 * time.Second))
		got, err = io.ReadAll(c)
		return err
	})
	return string(got), err
}

func TestTwoPodsOnTheBridgeReachEachOtherAndTeardownReleasesAll(t *testing.T) {
	n := newNode(t)
	n.writeConflist(false)
	m := n.manager()
	podA, podB := n.netns("pod-a"), n.netns("pod-b")

	resA, err := n.setup(m, SandboxNetwork{
		ID: "pod-a", NetNSPath: podA, PodName: "a", PodNamespace: "test", PodUID: "uid-a",
		PortMappings: []PortMapping{{HostPort: testHostPort, ContainerPort: podPort, Protocol: "TCP"}},
	})
	if err != nil {
		t.Fatalf("Setup a: %v", err)
	}
	resB, err := n.setup(m, SandboxNetwork{ID: "pod-b", NetNSPath: podB, PodName: "b", PodNamespace: "test", PodUID: "uid-b"})
	if err != nil {
		t.Fatalf("Setup b: %v", err)
	}
	subnet := netip.MustParsePrefix(testSubnet)
	for name, res := range map[string]*Result{"a": resA, "b": resB} {
		if len(res.IPs) != 1 || !subnet.Contains(res.IPs[0]) {
			t.Fatalf("pod %s got IPs %v, want one in %s", name, res.IPs, subnet)
		}
	}
	if got := n.allocated(); len(got) != 2 {
		t.Fatalf("host-local holds %v, want two IPs", got)
	}

	serve(t, podA, podPort, "hello from a")
	if got, err := dial(podB, net.JoinHostPort(resA.IPs[0].String(), fmt.Sprint(podPort))); err != nil || got != "hello from a" {
		t.Fatalf("b -> a over the bridge: %q, %v", got, err)
	}
	// The hostPort, from the node to one of its own addresses.
	hostPortAddr := net.JoinHostPort(testGateway, fmt.Sprint(testHostPort))
	if got, err := dial(n.path, hostPortAddr); err != nil || got != "hello from a" {
		t.Fatalf("node -> hostPort %s: %q, %v", hostPortAddr, got, err)
	}
	var checkErr error
	n.on(func() { checkErr = m.Check(context.Background(), "pod-a") })
	if checkErr != nil {
		t.Errorf("Check of a working pod: %v", checkErr)
	}

	if err := n.teardown(m, "pod-a"); err != nil {
		t.Fatalf("Teardown a: %v", err)
	}
	if got := n.allocated(); len(got) != 1 || got[0] != resB.IPs[0].String() {
		t.Errorf("after Teardown a, host-local holds %v, want only b's %s", got, resB.IPs[0])
	}
	n.waitVeths(1)
	if chains := n.hostportChains(); len(chains) != 0 {
		t.Errorf("portmap rules left after Teardown: %v", chains)
	}
	if _, err := dial(n.path, hostPortAddr); err == nil {
		t.Errorf("hostPort %s still reaches a pod after Teardown", hostPortAddr)
	}
	if err := n.teardown(m, "pod-a"); err != nil {
		t.Errorf("second Teardown a: %v", err)
	}

	// b's namespace goes first, as when a node's pods died with a reboot or
	// the pause process: DEL must still release the IP.
	if err := netns.Remove(podB); err != nil {
		t.Fatal(err)
	}
	if err := n.teardown(n.manager(), "pod-b"); err != nil {
		t.Fatalf("Teardown b after its namespace was removed (new Manager): %v", err)
	}
	if got := n.allocated(); len(got) != 0 {
		t.Errorf("host-local still holds %v", got)
	}
	n.waitVeths(0)
}

// A chain that fails after bridge and portmap did their work leaves an IP,
// a veth and DNAT rules behind; Teardown must release all of them.
func TestTeardownAfterAHalfFailedAddLeavesNothing(t *testing.T) {
	n := newNode(t)
	n.writeConflist(true)
	m := n.manager()
	pod := n.netns("pod-f")
	writeFile(t, filepath.Join(n.control, "fail-ADD"), "injected after portmap")

	_, err := n.setup(m, SandboxNetwork{
		ID: "pod-f", NetNSPath: pod, PodName: "f", PodNamespace: "test",
		PortMappings: []PortMapping{{HostPort: testHostPort, ContainerPort: podPort, Protocol: "TCP"}},
	})
	if err == nil || !strings.Contains(err.Error(), "injected after portmap") {
		t.Fatalf("Setup = %v, want the injected failure", err)
	}
	// Prove the failure really was half-way, or the rest proves nothing.
	if len(n.allocated()) != 1 || n.veths() != 1 || len(n.hostportChains()) == 0 {
		t.Fatalf("after the failed ADD: IPs %v, veths %d, DNAT %v; want one of each", n.allocated(), n.veths(), n.hostportChains())
	}

	if err := n.teardown(m, "pod-f"); err != nil {
		t.Fatalf("Teardown: %v", err)
	}
	if got := n.allocated(); len(got) != 0 {
		t.Errorf("IPs left: %v", got)
	}
	n.waitVeths(0)
	if chains := n.hostportChains(); len(chains) != 0 {
		t.Errorf("portmap rules left: %v", chains)
	}
}

func TestGCReleasesTheIPsOfDeadSandboxes(t *testing.T) {
	n := newNode(t)
	n.writeConflist(false)
	m := n.manager()
	live, dead := n.netns("pod-live"), n.netns("pod-dead")
	resLive, err := n.setup(m, SandboxNetwork{ID: "pod-live", NetNSPath: live})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.setup(m, SandboxNetwork{ID: "pod-dead", NetNSPath: dead}); err != nil {
		t.Fatal(err)
	}

	var gcErr error
	restarted := n.manager()
	n.on(func() { gcErr = restarted.GC(context.Background(), []string{"pod-live"}) })
	if gcErr != nil {
		t.Fatalf("GC: %v", gcErr)
	}
	if got := n.allocated(); len(got) != 1 || got[0] != resLive.IPs[0].String() {
		t.Errorf("after GC host-local holds %v, want only the live pod's %s", got, resLive.IPs[0])
	}
	if err := n.teardown(restarted, "pod-live"); err != nil {
		t.Fatal(err)
	}
}
