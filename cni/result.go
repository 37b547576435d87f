package cni

import (
	"fmt"
	"net/netip"

	"github.com/containernetworking/cni/pkg/types"
	types100 "github.com/containernetworking/cni/pkg/types/100"
)

func newResult(networkName string, res types.Result, ifName string) (*Result, error) {
	cur, err := types100.NewResultFromResult(res)
	if err != nil {
		return nil, fmt.Errorf("convert CNI result of network %q: %w", networkName, err)
	}
	return &Result{Network: networkName, IPs: podIPs(cur, ifName), Raw: cur}, nil
}

// podIPs picks the pod's addresses: those on ifName inside the sandbox (or
// with no interface named, which older plugins do), the first of each
// family, keeping the plugins' order so the config decides which family is
// primary (host-local: the order of its ranges).
func podIPs(r *types100.Result, ifName string) []netip.Addr {
	var ips []netip.Addr
	var have4, have6 bool
	for _, ipc := range r.IPs {
		if ipc == nil {
			continue
		}
		if ipc.Interface != nil {
			i := *ipc.Interface
			if i < 0 || i >= len(r.Interfaces) || r.Interfaces[i].Sandbox == "" || r.Interfaces[i].Name != ifName {
				continue
			}
		}
		addr, ok := netip.AddrFromSlice(ipc.Address.IP)
		if !ok {
			continue
		}
		addr = addr.Unmap()
		switch {
		case addr.Is4() && !have4:
			have4 = true
		case addr.Is6() && !have6:
			have6 = true
		default:
			continue
		}
		ips = append(ips, addr)
	}
	return ips
}
