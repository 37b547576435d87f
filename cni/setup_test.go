package cni

import (
	"context"
	"encoding/json"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/containerd/errdefs"
)

func TestSetupPassesKubernetesArgsAndCapabilities(t *testing.T) {
	e := newFaultEnv(t)
	writeFile(t, filepath.Join(e.confDir, "10-net.conflist"), e.faultConflist("podnet", "fd00::5/64", "10.99.0.5/24", "10.99.0.6/24"))
	m := e.manager(t)

	res, err := m.Setup(context.Background(), SandboxNetwork{
		ID: "sb1", NetNSPath: fakeNetNS,
		PodName: "web-0", PodNamespace: "shop", PodUID: "6f1c-uid",
		PortMappings: []PortMapping{
			{HostPort: 8080, ContainerPort: 80, Protocol: "TCP"},
			{HostPort: 5353, ContainerPort: 53, Protocol: "UDP", HostIP: "127.0.0.1"},
			{ContainerPort: 9090, Protocol: "TCP"}, // no hostPort: not a mapping
		},
		DNS:       &DNS{Servers: []string{"10.96.0.10"}, Searches: []string{"shop.svc.cluster.local"}},
		Bandwidth: &Bandwidth{IngressRate: 1000000, EgressRate: 2000000},
		IPRanges:  [][]IPRange{{{Subnet: "10.99.0.0/24"}}},
	})
	if err != nil {
		t.Fatalf("Setup: %v", err)
	}

	// Pod IPs: one per family, in the plugin's order, so IPv6 is primary here.
	want := []netip.Addr{netip.MustParseAddr("fd00::5"), netip.MustParseAddr("10.99.0.5")}
	if !slices.Equal(res.IPs, want) {
		t.Errorf("IPs = %v, want %v", res.IPs, want)
	}
	if res.Network != "podnet" || res.Raw == nil || len(res.Raw.IPs) != 3 {
		t.Errorf("Result = %+v, want network podnet and the raw result with 3 IPs", res)
	}

	add := e.seen(t, "ADD", "sb1")
	for _, kv := range []string{"IgnoreUnknown=1", "K8S_POD_NAMESPACE=shop", "K8S_POD_NAME=web-0", "K8S_POD_INFRA_CONTAINER_ID=sb1", "K8S_POD_UID=6f1c-uid"} {
		if !slices.Contains(strings.Split(add.Args, ";"), kv) {
			t.Errorf("CNI_ARGS %q lacks %s", add.Args, kv)
		}
	}
	if add.IfName != "eth0" || add.NetNS != fakeNetNS {
		t.Errorf("plugin got ifName %q netns %q", add.IfName, add.NetNS)
	}
	var rc struct {
		PortMappings []PortMapping `json:"portMappings"`
		DNS          DNS           `json:"dns"`
		Bandwidth    Bandwidth     `json:"bandwidth"`
		IPRanges     [][]IPRange   `json:"ipRanges"`
	}
	if err := json.Unmarshal(add.Config.RuntimeConfig, &rc); err != nil {
		t.Fatalf("runtimeConfig %s: %v", add.Config.RuntimeConfig, err)
	}
	wantPorts := []PortMapping{
		{HostPort: 8080, ContainerPort: 80, Protocol: "tcp"},
		{HostPort: 5353, ContainerPort: 53, Protocol: "udp", HostIP: "127.0.0.1"},
	}
	if !slices.Equal(rc.PortMappings, wantPorts) {
		t.Errorf("portMappings = %+v, want %+v", rc.PortMappings, wantPorts)
	}
	if !slices.Equal(rc.DNS.Servers, []string{"10.96.0.10"}) || rc.Bandwidth.EgressRate != 2000000 ||
		len(rc.IPRanges) != 1 || rc.IPRanges[0][0].Subnet != "10.99.0.0/24" {
		t.Errorf("capability args = %s", add.Config.RuntimeConfig)
	}
}

func TestSetupRejectsBadRequestsBeforeRunningAnything(t *testing.T) {
	e := newFaultEnv(t)
	writeFile(t, filepath.Join(e.confDir, "10-net.conflist"), e.faultConflist("podnet", "10.99.0.5/24"))
	m := e.manager(t)
	for _, tc := range []struct {
		name string
		sn   SandboxNetwork
	}{
		{"empty ID", SandboxNetwork{NetNSPath: fakeNetNS}},
		{"ID with a slash", SandboxNetwork{ID: "a/b", NetNSPath: fakeNetNS}},
		{"no netns", SandboxNetwork{ID: "a"}},
		{"pod name splitting CNI_ARGS", SandboxNetwork{ID: "a", NetNSPath: fakeNetNS, PodName: "x;K8S_POD_UID=evil"}},
		{"hostPort too big", SandboxNetwork{ID: "a", NetNSPath: fakeNetNS, PortMappings: []PortMapping{{HostPort: 70000, ContainerPort: 80}}}},
		{"no containerPort", SandboxNetwork{ID: "a", NetNSPath: fakeNetNS, PortMappings: []PortMapping{{HostPort: 80}}}},
		{"unknown protocol", SandboxNetwork{ID: "a", NetNSPath: fakeNetNS, PortMappings: []PortMapping{{HostPort: 80, ContainerPort: 80, Protocol: "icmp"}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := m.Setup(context.Background(), tc.sn); !errdefs.IsInvalidArgument(err) {
				t.Fatalf("Setup = %v, want InvalidArgument", err)
			}
		})
	}
	if calls := e.calls(t); len(calls) != 0 {
		t.Errorf("plugins ran for rejected requests: %v", calls)
	}
}

func TestSetupRefusesASecondAttachmentOfOneSandbox(t *testing.T) {
	e := newFaultEnv(t)
	writeFile(t, filepath.Join(e.confDir, "10-net.conflist"), e.faultConflist("podnet", "10.99.0.5/24"))
	m := e.manager(t)
	ctx := context.Background()
	sn := SandboxNetwork{ID: "sb1", NetNSPath: fakeNetNS}
	if _, err := m.Setup(ctx, sn); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Setup(ctx, sn); !errdefs.IsAlreadyExists(err) {
		t.Fatalf("second Setup = %v, want AlreadyExists", err)
	}
	if n := e.count(t, "ADD", "sb1"); n != 1 {
		t.Errorf("ADD ran %d times, want 1", n)
	}
	// After Teardown the ID can be attached again.
	if err := m.Teardown(ctx, "sb1"); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Setup(ctx, sn); err != nil {
		t.Fatalf("Setup after Teardown: %v", err)
	}
}

// The CNI spec forbids concurrent calls for one container; other sandboxes
// must not wait for a slow one.
func TestCallsForOneSandboxAreSerialisedAndOthersAreNot(t *testing.T) {
	e := newFaultEnv(t)
	writeFile(t, filepath.Join(e.confDir, "10-net.conflist"), e.faultConflist("podnet", "10.99.0.5/24"))
	m := e.manager(t)
	ctx := context.Background()
	e.inject(t, "sleep", "ADD", "400ms")

	var wg sync.WaitGroup
	wg.Go(func() {
		if _, err := m.Setup(ctx, SandboxNetwork{ID: "x", NetNSPath: fakeNetNS}); err != nil {
			t.Error(err)
		}
	})
	wg.Go(func() {
		if _, err := m.Setup(ctx, SandboxNetwork{ID: "y", NetNSPath: fakeNetNS}); err != nil {
			t.Error(err)
		}
	})
	time.Sleep(150 * time.Millisecond) // both ADDs are running
	wg.Go(func() {
		if err := m.Teardown(ctx, "x"); err != nil {
			t.Error(err)
		}
	})
	wg.Wait()

	calls := e.calls(t)
	idx := func(line string) int {
		i := slices.Index(calls, line)
		if i < 0 {
			t.Fatalf("no %q in %v", line, calls)
		}
		return i
	}
	if idx("start DEL x") < idx("end ADD x") {
		t.Errorf("DEL of x started while its ADD was running: %v", calls)
	}
	if idx("start ADD y") > idx("end ADD x") {
		t.Errorf("ADD of y waited for x: %v", calls)
	}
}
