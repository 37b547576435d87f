package integration

import (
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/berth-cri/berth/test/harness"
)

func conntrackEntries(t *testing.T, ip string) int {
	t.Helper()
	addr := net.ParseIP(ip)
	n := 0
	for _, family := range []netlink.InetFamily{syscall.AF_INET, syscall.AF_INET6} {
		flows, err := netlink.ConntrackTableList(netlink.ConntrackTable, family)
		if err != nil {
			t.Fatalf("conntrack list: %v", err)
		}
		for _, f := range flows {
			if f.Forward.SrcIP.Equal(addr) || f.Forward.DstIP.Equal(addr) || f.Reverse.SrcIP.Equal(addr) || f.Reverse.DstIP.Equal(addr) {
				n++
			}
		}
	}
	return n
}

// freePort finds a port nothing on the node listens on.
func freePort(t *testing.T, network string) int32 {
	t.Helper()
	if network == "udp" {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer pc.Close()
		return int32(pc.LocalAddr().(*net.UDPAddr).Port)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return int32(l.Addr().(*net.TCPAddr).Port)
}

func TestPodsGetIPsAndReachEachOther(t *testing.T) {
	d := harness.Start(t)
	a, cfgA := runPod(t, d)
	b, _ := runPod(t, d)
	ipA, ipB := podIP(t, d, a), podIP(t, d, b)
	if ipA == ipB {
		t.Fatalf("two pods share %s", ipA)
	}
	for _, ip := range []string{ipA, ipB} {
		if !d.Subnet.Contains(netip.MustParseAddr(ip)) {
			t.Fatalf("pod IP %s is not from the network's subnet", ip)
		}
	}

	l, _ := listenInPod(t, d, a, "tcp", ":8080")
	serveGreeting(l, "hello from a")
	got, err := dialFromPod(t, d, b, net.JoinHostPort(ipA, "8080"))
	if err != nil || got != "hello from a" {
		t.Fatalf("pod b -> pod a: %q, %v", got, err)
	}
	// kubelet's HTTP and TCP probes go from the node to the pod IP.
	if got, err := readLine(net.JoinHostPort(ipA, "8080")); err != nil || got != "hello from a" {
		t.Fatalf("node -> pod a: %q, %v", got, err)
	}

	st := podStatus(t, d, a)
	s := st.Status
	if s.State != runtimeapi.PodSandboxState_SANDBOX_READY || s.Metadata.Name != cfgA.Metadata.Name {
		t.Errorf("status: %v %v", s.State, s.Metadata)
	}
	if s.Labels["app"] != cfgA.Labels["app"] || s.Annotations["note"] != "kept verbatim" {
		t.Errorf("labels/annotations must round-trip: %v %v", s.Labels, s.Annotations)
	}
	if s.GetLinux().GetNamespaces().GetOptions().GetNetwork() != runtimeapi.NamespaceMode_POD {
		t.Errorf("namespace options not echoed: %v", s.GetLinux())
	}
	var info struct {
		Pid       int    `json:"pid"`
		NetNSPath string `json:"netnsPath"`
	}
	if err := json.Unmarshal([]byte(st.Info["info"]), &info); err != nil || info.Pid == 0 || info.NetNSPath == "" {
		t.Errorf("verbose info lacks pid/netns: %v %s", err, st.Info["info"])
	}
	if !harness.ProcessAlive(info.Pid) {
		t.Errorf("pause pid %d is not running", info.Pid)
	}
	if sb := podStatus(t, d, b).Status; sb.CreatedAt <= s.CreatedAt {
		t.Errorf("created_at must order sandboxes: a=%d b=%d", s.CreatedAt, sb.CreatedAt)
	}
}

func TestHostPortServesFromTheNodeAndIsExclusive(t *testing.T) {
	d := harness.Start(t)
	hostPort := freePort(t, "tcp")
	a, _ := runPod(t, d, withHostPort(runtimeapi.Protocol_TCP, 80, hostPort))
	l, _ := listenInPod(t, d, a, "tcp", ":80")
	serveGreeting(l, "Welcome to pod a")

	addr := fmt.Sprintf("127.0.0.1:%d", hostPort)
	var got string
	var err error
	for i := 0; i < 20; i++ { // iptables rules are in place once ADD returned; allow for slow kernels
		if got, err = readLine(addr); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if got != "Welcome to pod a" {
		t.Fatalf("hostPort %d via 127.0.0.1: %q, %v", hostPort, got, err)
	}

	ctx, cancel := ctxTimeout(30 * time.Second)
	defer cancel()
	_, err = d.Runtime.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: podConfig(withHostPort(runtimeapi.Protocol_TCP, 80, hostPort))})
	if err == nil || !strings.Contains(err.Error(), fmt.Sprint(hostPort)) {
		t.Fatalf("a second pod on hostPort %d: want a clear error naming the port, got %v", hostPort, err)
	}
	if got, err := readLine(addr); err != nil || got != "Welcome to pod a" {
		t.Fatalf("the first pod stopped serving after the refused one: %q %v", got, err)
	}

	// A port a host process listens on is refused too.
	busy, err := net.Listen("tcp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	busyPort := int32(busy.Addr().(*net.TCPAddr).Port)
	_, err = d.Runtime.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: podConfig(withHostPort(runtimeapi.Protocol_TCP, 80, busyPort))})
	if err == nil {
		t.Fatalf("hostPort %d held by a host process was handed to a pod", busyPort)
	}
}

func TestStopPurgesUDPConntrackAndRemoveLeavesNothing(t *testing.T) {
	d := harness.Start(t)
	udpPort := freePort(t, "udp")
	cfg := podConfig(withHostPort(runtimeapi.Protocol_UDP, 5353, udpPort))
	ctx, cancel := ctxTimeout(60 * time.Second)
	defer cancel()
	resp, err := d.Runtime.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	id := resp.PodSandboxId
	ip := podIP(t, d, id)
	_, pc := listenInPod(t, d, id, "udp", ":5353")

	// A UDP flow through the hostPort makes a conntrack entry.
	c, err := net.Dial("udp", fmt.Sprintf("127.0.0.1:%d", udpPort))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	buf := make([]byte, 16)
	got := false
	for i := 0; i < 20 && !got; i++ {
		_, _ = c.Write([]byte("ping")) // may be refused until the mapping is there: retried
		if err := pc.SetReadDeadline(time.Now().Add(200 * time.Millisecond)); err != nil {
			t.Fatal(err)
		}
		if _, _, err := pc.ReadFrom(buf); err == nil {
			got = true
		}
	}
	if !got {
		t.Fatal("UDP datagram to the hostPort never reached the pod")
	}
	if n := conntrackEntries(t, ip); n == 0 {
		t.Fatal("no conntrack entry for the UDP flow: the test cannot check the purge")
	}
	pc.Close()

	if _, err := d.Runtime.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: id}); err != nil {
		t.Fatal(err)
	}
	// The purge runs in the background, right after the pod's CNI DEL.
	for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		n := conntrackEntries(t, ip)
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d conntrack entries for %s survive StopPodSandbox by 2s", n, ip)
		}
	}
	if st := podStatus(t, d, id).Status; st.State != runtimeapi.PodSandboxState_SANDBOX_NOTREADY {
		t.Fatalf("stopped sandbox is %v", st.State)
	}
	// Stop alone releases the pod's namespace pin and /dev/shm, without
	// waiting for their unmounts.
	for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		m := append(harness.MountsUnder(netnsPath(d, id)), harness.MountsUnder(filepath.Join(d.State, "sandboxes", id))...)
		if len(m) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("mounts %v survive StopPodSandbox by 2s", m)
		}
	}
	// Stop is idempotent, Remove of a removed sandbox succeeds.
	if _, err := d.Runtime.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: id}); err != nil {
		t.Fatalf("second stop: %v", err)
	}
	if _, err := d.Runtime.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: id}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Runtime.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: id}); err != nil {
		t.Fatalf("second remove: %v", err)
	}
	if left := leftovers(t, d, []string{id}, []string{ip}); len(left) > 0 {
		t.Fatalf("leaked after stop+remove: %v", left)
	}
	_, err = d.Runtime.PodSandboxStatus(ctx, &runtimeapi.PodSandboxStatusRequest{PodSandboxId: id})
	if status.Code(err) != codes.NotFound {
		t.Fatalf("status of a removed sandbox: want NotFound, got %v", err)
	}
}

func TestListFiltersAndRetriedRunGetsTheSameSandbox(t *testing.T) {
	d := harness.Start(t)
	a, cfgA := runPod(t, d, withLabels(map[string]string{"tier": "front"}))
	b, _ := runPod(t, d, withLabels(map[string]string{"tier": "back"}), withHostNetwork())

	ctx, cancel := ctxTimeout(30 * time.Second)
	defer cancel()
	// kubelet retrying after a timeout sends the same metadata.
	resp, err := d.Runtime.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: cfgA})
	if err != nil || resp.PodSandboxId != a {
		t.Fatalf("retry with the same metadata: got %q, %v; want %s", resp.GetPodSandboxId(), err, a)
	}

	list := func(f *runtimeapi.PodSandboxFilter) []string {
		r, err := d.Runtime.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{Filter: f})
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, it := range r.Items {
			ids = append(ids, it.Id)
		}
		return ids
	}
	if ids := list(nil); len(ids) != 2 {
		t.Fatalf("list all: %v", ids)
	}
	if ids := list(&runtimeapi.PodSandboxFilter{LabelSelector: map[string]string{"tier": "back"}}); len(ids) != 1 || ids[0] != b {
		t.Fatalf("label filter: %v", ids)
	}
	if ids := list(&runtimeapi.PodSandboxFilter{Id: a[:12]}); len(ids) != 1 || ids[0] != a {
		t.Fatalf("id prefix filter: %v", ids)
	}
	if _, err := d.Runtime.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: b}); err != nil {
		t.Fatal(err)
	}
	notReady := &runtimeapi.PodSandboxStateValue{State: runtimeapi.PodSandboxState_SANDBOX_NOTREADY}
	if ids := list(&runtimeapi.PodSandboxFilter{State: notReady}); len(ids) != 1 || ids[0] != b {
		t.Fatalf("state filter: %v", ids)
	}
	if st := podStatus(t, d, b).Status; st.GetNetwork().GetIp() != "" || st.GetLinux().GetNamespaces().GetOptions().GetNetwork() != runtimeapi.NamespaceMode_NODE {
		t.Fatalf("host-network pod: %v", st)
	}
}

func TestCrictlPodCommands(t *testing.T) {
	d := harness.Start(t)
	cfg := podConfig()
	data, _ := json.Marshal(map[string]any{
		"metadata": map[string]any{"name": cfg.Metadata.Name, "namespace": "berth-test", "uid": cfg.Metadata.Uid},
		"linux":    map[string]any{},
	})
	path := d.Dir + "/pod.json"
	if err := writeFile(path, data); err != nil {
		t.Fatal(err)
	}
	out, err := d.Crictl("runp", path)
	if err != nil {
		t.Fatal(err)
	}
	id := strings.TrimSpace(out)
	if out, err := d.Crictl("pods", "-q"); err != nil || !strings.Contains(out, id) {
		t.Fatalf("crictl pods: %q %v", out, err)
	}
	if out, err := d.Crictl("inspectp", id); err != nil || !strings.Contains(out, `"state": "SANDBOX_READY"`) {
		t.Fatalf("crictl inspectp: %v\n%s", err, out)
	}
	if _, err := d.Crictl("stopp", id); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Crictl("rmp", id); err != nil {
		t.Fatal(err)
	}
	if out, _ := d.Crictl("pods", "-q"); strings.Contains(out, id) {
		t.Fatalf("removed pod still listed: %s", out)
	}
}

func TestHostPortServesTheNginxStandIn(t *testing.T) {
	reg := harness.StartRegistry(t)
	d := harness.Start(t, harness.WithRegistryConfigDir(reg.HostsDir))
	image := mustPull(t, d, "registry.k8s.io/e2e-test-images/nginx:1.14-2")
	hostPort := freePort(t, "tcp")
	pod, cfg := runPod(t, d, withHostPort(runtimeapi.Protocol_TCP, 80, hostPort))
	runContainer(t, d, pod, cfg, ctrConfig(image, func(c *runtimeapi.ContainerConfig) {
		c.Command = nil // the image's own entrypoint: the web server
		c.Image.UserSpecifiedImage = "registry.k8s.io/e2e-test-images/nginx:1.14-2"
	}))

	// From the node, by loopback (kubelet's own probes of a hostPort) and by
	// the node's address on the pod network (the bridge gateway).
	gateway := d.Subnet.Addr().Next()
	for _, host := range []string{"127.0.0.1", gateway.String()} {
		url := fmt.Sprintf("http://%s:%d/", host, hostPort)
		var body string
		for i := 0; i < 50; i++ { // nginx needs a moment to listen
			out, err := exec.Command("curl", "-s", "--max-time", "2", url).Output()
			if body = string(out); err == nil && strings.Contains(body, "Welcome to nginx!") {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if !strings.Contains(body, "Welcome to nginx!") {
			t.Fatalf("curl %s: %q", url, body)
		}
	}
}
