package cni

import (
	"net"
	"net/netip"
	"slices"
	"testing"

	types100 "github.com/containernetworking/cni/pkg/types/100"
)

func TestPodIPs(t *testing.T) {
	ipc := func(cidr string, iface *int) *types100.IPConfig {
		ip, n, err := net.ParseCIDR(cidr)
		if err != nil {
			t.Fatal(err)
		}
		n.IP = ip
		return &types100.IPConfig{Address: *n, Interface: iface}
	}
	hostVeth := &types100.Interface{Name: "veth1234"}
	bridge := &types100.Interface{Name: "cni0"}
	pod := &types100.Interface{Name: "eth0", Sandbox: "/run/berth/netns/x"}
	podOther := &types100.Interface{Name: "net1", Sandbox: "/run/berth/netns/x"}

	for _, tc := range []struct {
		name string
		res  types100.Result
		want []string
	}{
		{
			name: "bridge result: host interfaces are skipped",
			res: types100.Result{
				Interfaces: []*types100.Interface{bridge, hostVeth, pod},
				IPs:        []*types100.IPConfig{ipc("10.88.0.7/16", types100.Int(2))},
			},
			want: []string{"10.88.0.7"},
		},
		{
			name: "dual stack keeps the plugin's order",
			res: types100.Result{
				Interfaces: []*types100.Interface{pod},
				IPs:        []*types100.IPConfig{ipc("fd00::7/64", types100.Int(0)), ipc("10.88.0.7/16", types100.Int(0))},
			},
			want: []string{"fd00::7", "10.88.0.7"},
		},
		{
			name: "one IP per family",
			res: types100.Result{
				Interfaces: []*types100.Interface{pod},
				IPs:        []*types100.IPConfig{ipc("10.88.0.7/16", types100.Int(0)), ipc("10.88.0.8/16", types100.Int(0)), ipc("fd00::7/64", types100.Int(0))},
			},
			want: []string{"10.88.0.7", "fd00::7"},
		},
		{
			name: "IPs with no interface are the pod's",
			res:  types100.Result{IPs: []*types100.IPConfig{ipc("10.88.0.7/16", nil)}},
			want: []string{"10.88.0.7"},
		},
		{
			name: "other pod interfaces and bad indexes are skipped",
			res: types100.Result{
				Interfaces: []*types100.Interface{podOther, pod},
				IPs:        []*types100.IPConfig{ipc("192.168.5.5/24", types100.Int(0)), ipc("10.1.1.1/8", types100.Int(7)), ipc("10.88.0.7/16", types100.Int(1))},
			},
			want: []string{"10.88.0.7"},
		},
		{
			name: "no IP",
			res:  types100.Result{Interfaces: []*types100.Interface{pod}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var want []netip.Addr
			for _, s := range tc.want {
				want = append(want, netip.MustParseAddr(s))
			}
			if got := podIPs(&tc.res, "eth0"); !slices.Equal(got, want) {
				t.Errorf("podIPs = %v, want %v", got, want)
			}
		})
	}
}
