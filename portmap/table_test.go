package portmap

import (
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
)

// noHost is a probe that finds nothing on the node.
func noHost(Port) error { return nil }

func TestReserveConflicts(t *testing.T) {
	type step struct {
		sandbox string
		ports   []PortMapping
		want    error // errdefs class, nil for success
	}
	tcp := func(ip string, port int32) PortMapping {
		return PortMapping{Protocol: "tcp", HostIP: ip, HostPort: port}
	}
	udp := func(ip string, port int32) PortMapping {
		return PortMapping{Protocol: "UDP", HostIP: ip, HostPort: port}
	}

	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"same port, other protocol", []step{
			{"a", []PortMapping{tcp("", 80)}, nil},
			{"b", []PortMapping{udp("", 80)}, nil},
		}},
		{"same port and protocol", []step{
			{"a", []PortMapping{tcp("", 80)}, nil},
			{"b", []PortMapping{tcp("", 80)}, errdefs.ErrAlreadyExists},
		}},
		{"empty protocol is TCP", []step{
			{"a", []PortMapping{{HostPort: 80}}, nil},
			{"b", []PortMapping{tcp("", 80)}, errdefs.ErrAlreadyExists},
		}},
		{"wildcard against a specific IP", []step{
			{"a", []PortMapping{tcp("10.0.0.1", 80)}, nil},
			{"b", []PortMapping{tcp("", 80)}, errdefs.ErrAlreadyExists},
		}},
		{"specific IP against a wildcard", []step{
			{"a", []PortMapping{tcp("0.0.0.0", 80)}, nil},
			{"b", []PortMapping{tcp("10.0.0.1", 80)}, errdefs.ErrAlreadyExists},
			{"c", []PortMapping{tcp("fd00::1", 80)}, errdefs.ErrAlreadyExists},
		}},
		{"unspecified IPv6 is a wildcard too", []step{
			{"a", []PortMapping{tcp("::", 80)}, nil},
			{"b", []PortMapping{tcp("10.0.0.1", 80)}, errdefs.ErrAlreadyExists},
		}},
		{"two different specific IPs", []step{
			{"a", []PortMapping{tcp("10.0.0.1", 80)}, nil},
			{"b", []PortMapping{tcp("10.0.0.2", 80)}, nil},
			{"c", []PortMapping{tcp("::ffff:10.0.0.1", 80)}, errdefs.ErrAlreadyExists},
		}},
		{"the same sandbox again is a retry", []step{
			{"a", []PortMapping{tcp("", 80), udp("", 53)}, nil},
			{"a", []PortMapping{tcp("", 80), udp("", 53)}, nil},
		}},
		{"ports without a hostPort are ignored", []step{
			{"a", []PortMapping{{Protocol: TCP}}, nil},
			{"b", []PortMapping{{Protocol: TCP}}, nil},
		}},
		{"a pod mapping one port twice", []step{
			{"a", []PortMapping{tcp("", 80), tcp("10.0.0.1", 80)}, errdefs.ErrInvalidArgument},
		}},
		{"bad requests", []step{
			{"a", []PortMapping{tcp("", 70000)}, errdefs.ErrInvalidArgument},
			{"a", []PortMapping{tcp("", -1)}, errdefs.ErrInvalidArgument},
			{"a", []PortMapping{{Protocol: "icmp", HostPort: 1}}, errdefs.ErrInvalidArgument},
			{"a", []PortMapping{tcp("not-an-ip", 80)}, errdefs.ErrInvalidArgument},
			{"", []PortMapping{tcp("", 80)}, errdefs.ErrInvalidArgument},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tab := New(WithHostProbe(noHost))
			for i, s := range tc.steps {
				err := tab.Reserve(s.sandbox, s.ports)
				switch {
				case s.want == nil && err != nil:
					t.Fatalf("step %d: Reserve(%s) = %v, want success", i, s.sandbox, err)
				case s.want != nil && !errors.Is(err, s.want):
					t.Fatalf("step %d: Reserve(%s) = %v, want %v", i, s.sandbox, err, s.want)
				}
			}
		})
	}
}

func TestReserveIsAllOrNothing(t *testing.T) {
	tab := New(WithHostProbe(noHost))
	if err := tab.Reserve("a", []PortMapping{{HostPort: 443}}); err != nil {
		t.Fatal(err)
	}
	err := tab.Reserve("b", []PortMapping{{HostPort: 80}, {HostPort: 443}})
	if !errdefs.IsAlreadyExists(err) {
		t.Fatalf("Reserve = %v, want AlreadyExists", err)
	}
	if !strings.Contains(err.Error(), "TCP *:443") || !strings.Contains(err.Error(), "sandbox a") {
		t.Errorf("error %q does not say which port and which sandbox", err)
	}
	if held := tab.Held("b"); len(held) != 0 {
		t.Errorf("b holds %v after a refused Reserve", held)
	}
	// Port 80 was not kept by the refused request.
	if err := tab.Reserve("c", []PortMapping{{HostPort: 80}}); err != nil {
		t.Errorf("port 80 is still taken after b's refused Reserve: %v", err)
	}
}

func TestReleaseFreesThePorts(t *testing.T) {
	tab := New(WithHostProbe(noHost))
	ports := []PortMapping{{HostPort: 80}, {Protocol: UDP, HostPort: 53}}
	if err := tab.Reserve("a", ports); err != nil {
		t.Fatal(err)
	}
	tab.Release("a")
	tab.Release("a")     // twice is fine
	tab.Release("never") // unknown is fine
	if err := tab.Reserve("b", ports); err != nil {
		t.Errorf("Reserve after Release: %v", err)
	}
}

func TestHostProbeRunsOnlyForNewPortsAndRefusalKeepsNothing(t *testing.T) {
	var probed []Port
	busy := Port{Protocol: UDP, Port: 53}
	tab := New(WithHostProbe(func(p Port) error {
		probed = append(probed, p)
		if p == busy {
			return errdefs.ErrFailedPrecondition
		}
		return nil
	}))
	if err := tab.Reserve("a", []PortMapping{{HostPort: 80}}); err != nil {
		t.Fatal(err)
	}
	err := tab.Reserve("a", []PortMapping{{HostPort: 80}, {Protocol: UDP, HostPort: 53}})
	if !errdefs.IsFailedPrecondition(err) {
		t.Fatalf("Reserve of a port a process holds = %v, want FailedPrecondition", err)
	}
	want := []Port{{Protocol: TCP, Port: 80}, busy}
	if !slices.Equal(probed, want) {
		t.Errorf("probed %v, want %v (a port the sandbox holds is not probed again)", probed, want)
	}
	if held := tab.Held("a"); len(held) != 1 {
		t.Errorf("a holds %v, want only its first port", held)
	}
}

func TestRestoreSkipsTheHostProbe(t *testing.T) {
	tab := New(WithHostProbe(func(Port) error { return errdefs.ErrFailedPrecondition }))
	if err := tab.Restore("a", []PortMapping{{HostPort: 8080}}); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	if err := tab.Restore("b", []PortMapping{{HostPort: 8080}}); !errdefs.IsAlreadyExists(err) {
		t.Errorf("Restore of a port another sandbox holds = %v, want AlreadyExists", err)
	}
	if got := tab.Held("a"); len(got) != 1 || got[0] != (Port{Protocol: TCP, Port: 8080}) {
		t.Errorf("a holds %v", got)
	}
}

func TestPortString(t *testing.T) {
	for _, tc := range []struct {
		p    Port
		want string
	}{
		{Port{Protocol: TCP, Port: 80}, "TCP *:80"},
		{Port{Protocol: UDP, HostIP: netip.MustParseAddr("127.0.0.1"), Port: 53}, "UDP 127.0.0.1:53"},
		{Port{Protocol: SCTP, HostIP: netip.MustParseAddr("fd00::1"), Port: 9}, "SCTP [fd00::1]:9"},
	} {
		if got := tc.p.String(); got != tc.want {
			t.Errorf("%#v.String() = %q, want %q", tc.p, got, tc.want)
		}
	}
}
