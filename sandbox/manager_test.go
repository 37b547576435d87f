package sandbox

import (
	"context"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/containerd/errdefs"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/berth-cri/berth/cni"
	"github.com/berth-cri/berth/conntrack"
	"github.com/berth-cri/berth/internal/handlers"
	"github.com/berth-cri/berth/portmap"
)

// fakeNetwork attaches pods as CNI would: ADD needs the pod's pinned
// network namespace, and gives each pod an IP of its own.
type fakeNetwork struct {
	j    *journal
	node *fakeNode

	mu       sync.Mutex
	attached map[string]netip.Addr
	next     byte
	gcLive   []string
}

func (n *fakeNetwork) Setup(_ context.Context, sn cni.SandboxNetwork) (*cni.Result, error) {
	if err := n.j.do("cni.add", sn.ID); err != nil {
		return nil, err
	}
	if !n.node.isPinned(sn.NetNSPath) {
		return nil, fmt.Errorf("CNI ADD: no network namespace at %q", sn.NetNSPath)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.next++
	ip := netip.AddrFrom4([4]byte{10, 88, 0, n.next})
	n.attached[sn.ID] = ip
	return &cni.Result{Network: "fake", IPs: []netip.Addr{ip}}, nil
}

func (n *fakeNetwork) Teardown(_ context.Context, id string) error {
	if err := n.j.do("cni.del", id); err != nil {
		return err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	delete(n.attached, id)
	return nil
}

func (n *fakeNetwork) GC(_ context.Context, live []string) error {
	if err := n.j.do("cni.gc", fmt.Sprint(len(live))); err != nil {
		return err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.gcLive = append([]string(nil), live...)
	keep := map[string]bool{}
	for _, id := range live {
		keep[id] = true
	}
	for id := range n.attached {
		if !keep[id] {
			delete(n.attached, id)
		}
	}
	return nil
}

func (n *fakeNetwork) left() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []string
	for id, ip := range n.attached {
		out = append(out, "CNI attachment "+id+" "+ip.String())
	}
	sort.Strings(out)
	return out
}

func (n *fakeNetwork) ip(id string) (netip.Addr, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	ip, ok := n.attached[id]
	return ip, ok
}

// fakeHostPorts is portmap's own table, without the check of the node's
// sockets, and what was asked of it journaled.
type fakeHostPorts struct {
	j     *journal
	table *portmap.Table

	mu  sync.Mutex
	ids map[string]bool
}

func newFakeHostPorts(j *journal) *fakeHostPorts {
	return &fakeHostPorts{j: j, table: portmap.New(portmap.WithHostProbe(nil)), ids: map[string]bool{}}
}

func (p *fakeHostPorts) Reserve(id string, ports []portmap.PortMapping) error {
	p.remember(id)
	if err := p.j.do("ports.reserve", id); err != nil {
		return err
	}
	return p.table.Reserve(id, ports)
}

func (p *fakeHostPorts) Restore(id string, ports []portmap.PortMapping) error {
	p.remember(id)
	if err := p.j.do("ports.restore", id); err != nil {
		return err
	}
	return p.table.Restore(id, ports)
}

func (p *fakeHostPorts) Release(id string) {
	_ = p.j.do("ports.release", id)
	p.table.Release(id)
}

func (p *fakeHostPorts) remember(id string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ids[id] = true
}

func (p *fakeHostPorts) left() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for id := range p.ids {
		for _, port := range p.table.Held(id) {
			out = append(out, "hostPort "+port.String()+" of "+id)
		}
	}
	sort.Strings(out)
	return out
}

type fakeConntrack struct{ j *journal }

func (c fakeConntrack) Purge(ips []netip.Addr, udp []conntrack.HostPort) {
	_ = c.j.do("conntrack.purge", fmt.Sprint(ips, udp))
}

// fakeContainerSide is the container manager as the sandbox manager sees
// it.
type fakeContainerSide struct{ j *journal }

func (c fakeContainerSide) StopAll(_ context.Context, id string) error {
	return c.j.do("containers.stop", id)
}

func (c fakeContainerSide) RemoveAll(_ context.Context, id string) error {
	return c.j.do("containers.remove", id)
}

type fakeNRI struct{ j *journal }

func (n fakeNRI) BlockSync() func() { return func() {} }

func (n fakeNRI) RunPodSandbox(_ context.Context, sb *Sandbox) error {
	return n.j.do("nri.run", sb.ID)
}

func (n fakeNRI) StopPodSandbox(_ context.Context, sb *Sandbox) { _ = n.j.do("nri.stop", sb.ID) }

func (n fakeNRI) RemovePodSandbox(_ context.Context, sb *Sandbox) { _ = n.j.do("nri.remove", sb.ID) }

// env is a Manager on fakes of everything it drives, with its files in
// temporary directories: what a berthd holds on a node, without root.
type env struct {
	t     *testing.T
	j     *journal
	cd    *fakeContainerd
	node  *fakeNode
	net   *fakeNetwork
	ports *fakeHostPorts
	cfg   Config
	m     *Manager
}

func newEnv(t *testing.T) *env {
	t.Helper()
	runc, err := handlers.New(map[string]handlers.Spec{"runc": {Binary: "runc", Runc: true}}, "runc", handlers.Node{})
	if err != nil {
		t.Fatal(err)
	}
	j := newJournal()
	node := newFakeNode(j)
	e := &env{t: t, j: j, cd: newFakeContainerd(j), node: node, net: &fakeNetwork{j: j, node: node, attached: map[string]netip.Addr{}}, ports: newFakeHostPorts(j)}
	resolv := filepath.Join(t.TempDir(), "resolv.conf")
	if err := os.WriteFile(resolv, []byte("nameserver 192.0.2.53\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	e.cfg = Config{
		Containerd: e.cd.containerd(),
		Node:       node,
		Root:       t.TempDir(),
		State:      t.TempDir(),
		PauseImage: "berth.test/pause:1",
		Handlers:   runc,
		ResolvConf: resolv,
		Network:    e.net,
		HostPorts:  e.ports,
		Conntrack:  fakeConntrack{j},
		NRI:        fakeNRI{j},
		Logger:     slog.New(slog.NewTextHandler(io.Discard, nil)),
		DropInfra:  true,
	}
	e.m = e.newManager()
	return e
}

func (e *env) newManager() *Manager {
	m := NewManager(e.cfg)
	m.SetContainers(fakeContainerSide{e.j})
	e.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := m.WaitCleanups(ctx); err != nil {
			e.t.Errorf("cleanups still running at the end: %v", err)
		}
	})
	return m
}

// restart is berthd starting again after a crash: a new Manager, with an
// empty memory, over the same containerd and node, after whileDown
// happened on the node. The hostPort table lived in the old berthd's
// memory.
func (e *env) restart(whileDown func()) {
	e.t.Helper()
	e.cd.crash()
	if whileDown != nil {
		whileDown()
	}
	e.ports = newFakeHostPorts(e.j)
	e.cfg.HostPorts = e.ports
	e.m = e.newManager()
	if _, err := e.m.Recover(reqCtx(e.t)); err != nil {
		e.t.Fatalf("Recover: %v", err)
	}
}

// reqCtx is a request's context: the containerd namespace the CRI edge sets,
// and kubelet's deadline.
func reqCtx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(namespaces.WithNamespace(context.Background(), "berth"), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

func (e *env) run(pod *runtimeapi.PodSandboxConfig) string {
	e.t.Helper()
	id, err := e.m.Run(reqCtx(e.t), pod, "")
	if err != nil {
		e.t.Fatalf("Run: %v", err)
	}
	return id
}

// left lists everything a sandbox can leak on a node: records in
// containerd, pins and mounts, CNI attachments, hostPorts, and files
// under the root and state directories.
func (e *env) left() []string {
	e.t.Helper()
	out := append(e.cd.left(), e.node.left()...)
	out = append(out, e.net.left()...)
	out = append(out, e.ports.left()...)
	for _, dir := range []string{
		filepath.Join(e.cfg.Root, "sandboxes"),
		filepath.Join(e.cfg.State, "sandboxes"),
		filepath.Join(e.cfg.State, "netns"),
	} {
		entries, _ := os.ReadDir(dir)
		for _, de := range entries {
			out = append(out, "file "+filepath.Join(dir, de.Name()))
		}
	}
	return out
}

func (e *env) assertNothingLeft() {
	e.t.Helper()
	if left := e.left(); len(left) > 0 {
		e.t.Errorf("left on the node:\n  %s\njournal:\n  %s", join(left), join(e.j.snapshot()))
	}
	if n := len(e.m.Store().List()); n != 0 {
		e.t.Errorf("%d sandboxes still listed", n)
	}
}

// assertBefore checks that the first event a happened before the first
// event b, both of which must have happened.
func (e *env) assertBefore(a, b [2]string) {
	e.t.Helper()
	ia, ib := e.j.index(a[0], a[1]), e.j.index(b[0], b[1])
	switch {
	case ia < 0:
		e.t.Errorf("%s %s never happened", a[0], short(a[1]))
	case ib < 0:
		e.t.Errorf("%s %s never happened", b[0], short(b[1]))
	case ia > ib:
		e.t.Errorf("%s %s happened after %s %s", a[0], short(a[1]), b[0], short(b[1]))
	}
}

func (e *env) status(id string) Status {
	e.t.Helper()
	sb, err := e.m.Store().Get(id)
	if err != nil {
		e.t.Fatalf("sandbox %s: %v", short(id), err)
	}
	return sb.Status()
}

func (e *env) sandbox(id string) *Sandbox {
	e.t.Helper()
	sb, err := e.m.Store().Get(id)
	if err != nil {
		e.t.Fatalf("sandbox %s: %v", short(id), err)
	}
	return sb
}

func join(lines []string) string {
	s := ""
	for i, l := range lines {
		if i > 0 {
			s += "\n  "
		}
		s += l
	}
	return s
}

func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// Pods as kubelet sends them.

// infralessPod is a pod whose containers do not share a PID namespace,
// with a hostPort.
func infralessPod(name string) *runtimeapi.PodSandboxConfig {
	return &runtimeapi.PodSandboxConfig{
		Metadata:     &runtimeapi.PodSandboxMetadata{Name: name, Namespace: "default", Uid: "uid-" + name},
		Hostname:     name,
		PortMappings: []*runtimeapi.PortMapping{{Protocol: runtimeapi.Protocol_TCP, ContainerPort: 80, HostPort: hostPortOf(name)}},
		Linux: &runtimeapi.LinuxPodSandboxConfig{
			CgroupParent:    "/kubepods/pod" + name,
			SecurityContext: &runtimeapi.LinuxSandboxSecurityContext{NamespaceOptions: &runtimeapi.NamespaceOption{Pid: runtimeapi.NamespaceMode_CONTAINER}},
		},
	}
}

// hostPortOf gives pods of different names different hostPorts.
func hostPortOf(name string) int32 {
	h := fnv.New32a()
	_, _ = h.Write([]byte(name))
	return 20000 + int32(h.Sum32()%20000)
}

// pausePod is a pod with shareProcessNamespace: it has a pause.
func pausePod(name string) *runtimeapi.PodSandboxConfig {
	p := infralessPod(name)
	p.Linux.SecurityContext.NamespaceOptions.Pid = runtimeapi.NamespaceMode_POD
	return p
}

// usernsPod is a pod with a user namespace of its own (hostUsers: false).
func usernsPod(name string) *runtimeapi.PodSandboxConfig {
	p := pausePod(name)
	p.Linux.SecurityContext.NamespaceOptions.UsernsOptions = &runtimeapi.UserNamespace{
		Mode: runtimeapi.NamespaceMode_POD,
		Uids: []*runtimeapi.IDMapping{{ContainerId: 0, HostId: 1 << 20, Length: 65536}},
		Gids: []*runtimeapi.IDMapping{{ContainerId: 0, HostId: 1 << 20, Length: 65536}},
	}
	return p
}

var errInjected = fmt.Errorf("injected failure: %w", errdefs.ErrUnavailable)
