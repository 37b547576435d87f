package stats

import (
	"fmt"

	"github.com/vishvananda/netlink"
	vnetns "github.com/vishvananda/netns"
)

// namespaceIfaces reads the counters of the interfaces in the network
// namespace pinned at path, over a netlink socket opened there: no
// process of the pod's is needed (an infra-less pod may have none
// running). Loopback is left out, as cAdvisor does.
func namespaceIfaces(path string) ([]ifaceStats, error) {
	ns, err := vnetns.GetFromPath(path)
	if err != nil {
		return nil, fmt.Errorf("open network namespace %s: %w", path, err)
	}
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return nil, fmt.Errorf("netlink in %s: %w", path, err)
	}
	defer h.Close()
	links, err := h.LinkList()
	if err != nil {
		return nil, fmt.Errorf("list interfaces in %s: %w", path, err)
	}
	var out []ifaceStats
	for _, l := range links {
		a := l.Attrs()
		if a.Name == "lo" || a.Statistics == nil {
			continue
		}
		s := a.Statistics
		out = append(out, ifaceStats{
			name:    a.Name,
			rxBytes: s.RxBytes, rxPackets: s.RxPackets, rxErrors: s.RxErrors, rxDropped: s.RxDropped,
			txBytes: s.TxBytes, txPackets: s.TxPackets, txErrs: s.TxErrors, txDropped: s.TxDropped,
		})
	}
	return out, nil
}
