package integration

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/vishvananda/netlink"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/berth-cri/berth/test/harness"
)

var podSeq atomic.Int64

// PodOption changes a test pod's sandbox config.
type PodOption func(*runtimeapi.PodSandboxConfig)

func withHostPort(proto runtimeapi.Protocol, container, host int32) PodOption {
	return func(c *runtimeapi.PodSandboxConfig) {
		c.PortMappings = append(c.PortMappings, &runtimeapi.PortMapping{Protocol: proto, ContainerPort: container, HostPort: host})
	}
}

func withHostNetwork() PodOption {
	return func(c *runtimeapi.PodSandboxConfig) {
		c.Linux.SecurityContext.NamespaceOptions.Network = runtimeapi.NamespaceMode_NODE
	}
}

// withPodPID sets the pod's PID namespace mode: kubelet asks CONTAINER for
// a pod without shareProcessNamespace (infra-less in Berth), POD with it.
func withPodPID(mode runtimeapi.NamespaceMode) PodOption {
	return func(c *runtimeapi.PodSandboxConfig) {
		c.Linux.SecurityContext.NamespaceOptions.Pid = mode
	}
}

func withLabels(labels map[string]string) PodOption {
	return func(c *runtimeapi.PodSandboxConfig) { c.Labels = labels }
}

func podConfig(opts ...PodOption) *runtimeapi.PodSandboxConfig {
	n := podSeq.Add(1)
	name := fmt.Sprintf("pod-%d-%d", os.Getpid(), n)
	c := &runtimeapi.PodSandboxConfig{
		Metadata:    &runtimeapi.PodSandboxMetadata{Name: name, Namespace: "berth-test", Uid: fmt.Sprintf("uid-%s", name)},
		Hostname:    name,
		Labels:      map[string]string{"app": name},
		Annotations: map[string]string{"note": "kept verbatim"},
		Linux: &runtimeapi.LinuxPodSandboxConfig{SecurityContext: &runtimeapi.LinuxSandboxSecurityContext{
			NamespaceOptions: &runtimeapi.NamespaceOption{},
		}},
	}
	for _, o := range opts {
		o(c)
	}
	return c
}

// runPod runs a sandbox and removes it when the test ends.
func runPod(t *testing.T, d *harness.Daemon, opts ...PodOption) (string, *runtimeapi.PodSandboxConfig) {
	t.Helper()
	cfg := podConfig(opts...)
	ctx, cancel := ctxTimeout(60 * time.Second)
	defer cancel()
	resp, err := d.Runtime.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: cfg})
	if err != nil {
		t.Fatalf("RunPodSandbox: %v", err)
	}
	id := resp.PodSandboxId
	t.Cleanup(func() { removePod(t, d, id) })
	return id, cfg
}

func removePod(t *testing.T, d *harness.Daemon, id string) {
	t.Helper()
	ctx, cancel := ctxTimeout(60 * time.Second)
	defer cancel()
	if _, err := d.Runtime.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: id}); err != nil {
		t.Errorf("StopPodSandbox %s: %v", id, err)
	}
	if _, err := d.Runtime.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: id}); err != nil {
		t.Errorf("RemovePodSandbox %s: %v", id, err)
	}
}

func podStatus(t *testing.T, d *harness.Daemon, id string) *runtimeapi.PodSandboxStatusResponse {
	t.Helper()
	ctx, cancel := ctxTimeout(10 * time.Second)
	defer cancel()
	resp, err := d.Runtime.PodSandboxStatus(ctx, &runtimeapi.PodSandboxStatusRequest{PodSandboxId: id, Verbose: true})
	if err != nil {
		t.Fatalf("PodSandboxStatus %s: %v", id, err)
	}
	return resp
}

func podIP(t *testing.T, d *harness.Daemon, id string) string {
	t.Helper()
	ip := podStatus(t, d, id).Status.GetNetwork().GetIp()
	if ip == "" {
		t.Fatalf("sandbox %s has no IP", id)
	}
	return ip
}

func netnsPath(d *harness.Daemon, id string) string { return filepath.Join(d.State, "netns", id) }

// listenInPod opens a listener inside the pod's network namespace, the
// way a container's server would; the socket stays in that namespace.
func listenInPod(t *testing.T, d *harness.Daemon, id, network, addr string) (net.Listener, net.PacketConn) {
	t.Helper()
	var l net.Listener
	var pc net.PacketConn
	err := ns.WithNetNSPath(netnsPath(d, id), func(ns.NetNS) error {
		var err error
		if network == "udp" {
			pc, err = net.ListenPacket("udp", addr)
		} else {
			l, err = net.Listen("tcp", addr)
		}
		return err
	})
	if err != nil {
		t.Fatalf("listen in pod %s: %v", id, err)
	}
	t.Cleanup(func() {
		if l != nil {
			l.Close()
		}
		if pc != nil {
			pc.Close()
		}
	})
	return l, pc
}

// serveGreeting answers every TCP connection with a line naming the pod.
func serveGreeting(l net.Listener, greeting string) {
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			fmt.Fprintln(c, greeting)
			c.Close()
		}
	}()
}

// dialFromPod connects from inside a pod's namespace and reads one line.
func dialFromPod(t *testing.T, d *harness.Daemon, id, addr string) (string, error) {
	t.Helper()
	var line string
	err := ns.WithNetNSPath(netnsPath(d, id), func(ns.NetNS) error {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		if err := c.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
			return err
		}
		buf := make([]byte, 128)
		n, err := c.Read(buf)
		line = strings.TrimSpace(string(buf[:n]))
		return err
	})
	return line, err
}

// readLine connects from the host and reads one line.
func readLine(addr string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	if err := c.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		return "", err
	}
	buf := make([]byte, 128)
	n, err := c.Read(buf)
	return strings.TrimSpace(string(buf[:n])), err
}

// leftovers lists what a removed sandbox may have leaked on the node.
func leftovers(t *testing.T, d *harness.Daemon, ids []string, ips []string) []string {
	t.Helper()
	var found []string
	// The unmounts run in the background, right after Stop.
	var netnsMounts, shmMounts []string
	for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		netnsMounts = harness.MountsUnder(filepath.Join(d.State, "netns"))
		shmMounts = harness.MountsUnder(filepath.Join(d.State, "sandboxes"))
		if len(netnsMounts)+len(shmMounts) == 0 || time.Now().After(deadline) {
			break
		}
	}
	if len(netnsMounts) > 0 {
		found = append(found, fmt.Sprintf("netns mounts %v", netnsMounts))
	}
	if len(shmMounts) > 0 {
		found = append(found, fmt.Sprintf("shm and namespace mounts %v", shmMounts))
	}
	if br, err := netlink.LinkByName(d.Bridge); err == nil {
		links, _ := netlink.LinkList()
		for _, l := range links {
			if l.Attrs().MasterIndex == br.Attrs().Index {
				found = append(found, "veth "+l.Attrs().Name)
			}
		}
	}
	ipam, _ := os.ReadDir(filepath.Join(d.IPAMDir, "berth-test"))
	for _, e := range ipam {
		for _, ip := range ips {
			if e.Name() == ip {
				found = append(found, "host-local IP "+ip)
			}
		}
	}
	rules, _ := exec.Command("iptables-save").Output()
	for _, id := range ids {
		if strings.Contains(string(rules), id) {
			found = append(found, "iptables rules for "+id[:12])
		}
	}
	for _, ip := range ips {
		// The purge runs in the background, right after the pod's CNI DEL.
		n := conntrackEntries(t, ip)
		for deadline := time.Now().Add(2 * time.Second); n > 0 && time.Now().Before(deadline); n = conntrackEntries(t, ip) {
			time.Sleep(20 * time.Millisecond)
		}
		if n > 0 {
			found = append(found, fmt.Sprintf("%d conntrack entries for %s", n, ip))
		}
	}
	found = append(found, containerdLeftovers(t, d, ids)...)
	for _, id := range ids {
		if _, err := os.Stat(filepath.Join(d.Root, "sandboxes", id)); err == nil {
			found = append(found, "sandbox dir "+id[:12])
		}
	}
	return found
}

// containerdLeftovers lists what berthd's containerd still holds of the
// sandboxes ids: their pause containers and their sandbox records.
func containerdLeftovers(t *testing.T, d *harness.Daemon, ids []string) []string {
	t.Helper()
	client := containerdOf(t, d)
	ctx, cancel := ctxTimeout(10 * time.Second)
	defer cancel()
	var found []string
	for _, id := range ids {
		if _, err := client.ContainerService().Get(ctx, id); err == nil {
			found = append(found, "pause container "+id[:12])
		}
		if _, err := client.SandboxStore().Get(ctx, id); err == nil {
			found = append(found, "containerd sandbox record "+id[:12])
		}
		if l, err := client.LeasesService().List(ctx, "id=="+"berth-sandbox-"+id); err == nil && len(l) > 0 {
			found = append(found, "containerd lease of sandbox "+id[:12])
		}
	}
	return found
}

// containerdOf is a client of berthd's embedded containerd, in Berth's
// namespace.
func containerdOf(t *testing.T, d *harness.Daemon) *containerd.Client {
	t.Helper()
	client, err := containerd.New(filepath.Join(d.State, "containerd", "containerd.sock"), containerd.WithDefaultNamespace("berth"))
	if err != nil {
		t.Fatalf("connect to berthd's containerd: %v", err)
	}
	t.Cleanup(func() { client.Close() })
	return client
}
