package stats

import (
	"testing"
)

func TestWorkingSet(t *testing.T) {
	for _, c := range []struct{ usage, inactive, want uint64 }{
		{100, 30, 70}, {100, 100, 0}, {10, 30, 0},
	} {
		if got := workingSet(c.usage, c.inactive); got != c.want {
			t.Errorf("workingSet(%d, %d) = %d, want %d", c.usage, c.inactive, got, c.want)
		}
	}
}

func TestNanoCores(t *testing.T) {
	prev := sample{cpu: 1_000_000_000}
	cur := sample{cpu: 1_500_000_000}
	prev.at = cur.at.Add(-2e9) // 2 s earlier: half a second of CPU in two
	if got := nanoCores(prev, cur); got != 250_000_000 {
		t.Fatalf("nanoCores = %d, want 250000000 (a quarter core)", got)
	}
	if got := nanoCores(cur, prev); got != 0 {
		t.Fatalf("nanoCores backwards = %d, want 0", got)
	}
}

// TestNetworkUsageNeedsAnInterface: kubelet reads the default interface of
// every network usage it is given; a pod whose namespace has only lo left
// (its network torn down, its pause still alive) must report none, not a
// usage without a default interface (which crashed kubelet's summary).
func TestNetworkUsageNeedsAnInterface(t *testing.T) {
	if u := networkUsage(nil, 1); u != nil {
		t.Errorf("networkUsage of a namespace with only lo = %v, want none", u)
	}
	u := networkUsage([]ifaceStats{{name: "net1", rxBytes: 1}, {name: "eth0", rxBytes: 2}}, 1)
	if u == nil || u.GetDefaultInterface().GetName() != "eth0" || len(u.GetInterfaces()) != 2 {
		t.Errorf("networkUsage = %v, want eth0 the default of two interfaces", u)
	}
}
