package stats

// ifaceStats are one network interface's counters.
type ifaceStats struct {
	name                                    string
	rxBytes, rxPackets, rxErrors, rxDropped uint64
	txBytes, txPackets, txErrs, txDropped   uint64
}
