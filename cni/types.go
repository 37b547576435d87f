package cni

import (
	"net/netip"

	types100 "github.com/containernetworking/cni/pkg/types/100"
)

// Config says where the network config, the plugins and Berth's CNI state
// live.
type Config struct {
	// ConfDir holds the network config files (/etc/cni/net.d).
	ConfDir string
	// BinDirs are searched in order for plugin binaries (/opt/cni/bin).
	BinDirs []string
	// StateDir holds libcni's result cache and Berth's attachment records.
	// It should survive a reboot as long as host-local's IP store does
	// (/var/lib/cni/networks), so that DEL can still release those IPs.
	StateDir string
	// IfName is the interface created in the pod; "eth0" when empty.
	IfName string
	// KeepIdlePlugins runs the whole configured chain for every sandbox,
	// portmap included for one without host ports (the skip_idle_portmap
	// = false of berthd's [shortcuts]). By default a plugin that would do
	// nothing for a sandbox is left out of its chain (idle.go).
	KeepIdlePlugins bool
}

// SandboxNetwork is what Setup needs to attach one pod sandbox.
type SandboxNetwork struct {
	// ID is the sandbox ID, passed as CNI_CONTAINERID.
	ID string
	// NetNSPath is the sandbox's pinned network namespace.
	NetNSPath string

	PodName      string
	PodNamespace string
	PodUID       string

	// The rest become CNI capability args, given only to plugins that
	// declare the capability in the config.
	PortMappings []PortMapping // "portMappings"
	DNS          *DNS          // "dns"
	Bandwidth    *Bandwidth    // "bandwidth"
	IPRanges     [][]IPRange   // "ipRanges"
}

// PortMapping is one hostPort, in the "portMappings" capability format.
type PortMapping struct {
	HostPort      int32  `json:"hostPort"`
	ContainerPort int32  `json:"containerPort"`
	Protocol      string `json:"protocol"` // tcp, udp or sctp; any case
	HostIP        string `json:"hostIP,omitempty"`
}

// DNS is the "dns" capability.
type DNS struct {
	Servers  []string `json:"servers,omitempty"`
	Searches []string `json:"searches,omitempty"`
	Options  []string `json:"options,omitempty"`
}

// Bandwidth is the "bandwidth" capability: rates in bits per second,
// bursts in bits.
type Bandwidth struct {
	IngressRate  uint64 `json:"ingressRate,omitempty"`
	IngressBurst uint64 `json:"ingressBurst,omitempty"`
	EgressRate   uint64 `json:"egressRate,omitempty"`
	EgressBurst  uint64 `json:"egressBurst,omitempty"`
}

// IPRange is one entry of the "ipRanges" capability (host-local's range
// format). Each inner slice of SandboxNetwork.IPRanges is one range set.
type IPRange struct {
	Subnet     string `json:"subnet"`
	RangeStart string `json:"rangeStart,omitempty"`
	RangeEnd   string `json:"rangeEnd,omitempty"`
	Gateway    string `json:"gateway,omitempty"`
}

// Result is what Setup returns.
type Result struct {
	// Network is the name of the network config that was used.
	Network string
	// IPs are the pod's IPs on the sandbox interface, at most one per IP
	// family, in the order the plugins returned them; IPs[0] is the
	// primary pod IP.
	IPs []netip.Addr
	// Raw is the whole CNI result, converted to the current result format;
	// it marshals to JSON for the sandbox's records.
	Raw *types100.Result
}
