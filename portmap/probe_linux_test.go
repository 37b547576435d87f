package portmap

import (
	"net"
	"strconv"
	"testing"

	"github.com/containerd/errdefs"
)

func portOf(t *testing.T, addr net.Addr) int32 {
	t.Helper()
	_, p, err := net.SplitHostPort(addr.String())
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.ParseInt(p, 10, 32)
	if err != nil {
		t.Fatal(err)
	}
	return int32(n)
}

// A port a process on the node listens on is refused, where the portmap
// plugin would otherwise have DNATed its traffic to the pod.
func TestReserveRefusesAPortAListenerHolds(t *testing.T) {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := portOf(t, l.Addr())
	tab := New()

	for _, hostIP := range []string{"", "127.0.0.1", "0.0.0.0"} {
		err := tab.Reserve("sb", []PortMapping{{Protocol: TCP, HostIP: hostIP, HostPort: port}})
		if !errdefs.IsFailedPrecondition(err) {
			t.Errorf("Reserve TCP %q:%d while a listener holds 127.0.0.1:%d = %v, want FailedPrecondition", hostIP, port, port, err)
		}
	}
	// Another address, or another protocol, is not in the listener's way.
	if err := tab.Reserve("other-ip", []PortMapping{{Protocol: TCP, HostIP: "127.0.0.2", HostPort: port}}); err != nil {
		t.Errorf("Reserve on 127.0.0.2: %v", err)
	}
	if err := tab.Reserve("udp", []PortMapping{{Protocol: UDP, HostPort: port}}); err != nil {
		t.Errorf("Reserve UDP on the listener's TCP port: %v", err)
	}

	// Once the process is gone the port is free.
	l.Close()
	tab.Release("other-ip")
	if err := tab.Reserve("sb", []PortMapping{{Protocol: TCP, HostPort: port}}); err != nil {
		t.Errorf("Reserve after the listener closed: %v", err)
	}
}

func TestProbeHostSeesUDPAndIPv6Sockets(t *testing.T) {
	u, err := net.ListenPacket("udp4", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	if err := ProbeHost(Port{Protocol: UDP, Port: uint16(portOf(t, u.LocalAddr()))}); !errdefs.IsFailedPrecondition(err) {
		t.Errorf("probe of a bound UDP port = %v, want FailedPrecondition", err)
	}

	l6, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback here: %v", err)
	}
	defer l6.Close()
	if err := ProbeHost(Port{Protocol: TCP, Port: uint16(portOf(t, l6.Addr()))}); !errdefs.IsFailedPrecondition(err) {
		t.Errorf("probe of a port held on [::1] = %v, want FailedPrecondition", err)
	}
}
