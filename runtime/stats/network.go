package stats

import (
	"bufio"
	"bytes"
	"strconv"
	"strings"
)

// ifaceStats are one network interface's counters.
type ifaceStats struct {
	name                                    string
	rxBytes, rxPackets, rxErrors, rxDropped uint64
	txBytes, txPackets, txErrs, txDropped   uint64
}

// parseNetDev reads /proc/<pid>/net/dev, which shows the interfaces of
// the network namespace the process is in: the pause process's are the
// pod's. Loopback is left out, as cAdvisor does.
func parseNetDev(data []byte) []ifaceStats {
	var out []ifaceStats
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue // the two header lines
		}
		name = strings.TrimSpace(name)
		f := strings.Fields(rest)
		if name == "lo" || len(f) < 12 {
			continue
		}
		n := func(i int) uint64 { v, _ := strconv.ParseUint(f[i], 10, 64); return v }
		// Receive: bytes packets errs drop fifo frame compressed multicast;
		// then transmit: bytes packets errs ...
		out = append(out, ifaceStats{
			name:    name,
			rxBytes: n(0), rxPackets: n(1), rxErrors: n(2), rxDropped: n(3),
			txBytes: n(8), txPackets: n(9), txErrs: n(10), txDropped: n(11),
		})
	}
	return out
}
