package portmap

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/containerd/errdefs"
	"golang.org/x/sys/unix"
)

// ProbeHost returns an errdefs.ErrFailedPrecondition error when a socket in
// the caller's network namespace is bound to p, found by binding it
// ourselves and closing at once (see the package doc for why, and for what
// this cannot see). It must run on a thread in the node's namespace, as
// every berthd goroutine does.
func ProbeHost(p Port) error {
	sockType, proto := unix.SOCK_STREAM, unix.IPPROTO_TCP
	switch p.Protocol {
	case UDP:
		sockType, proto = unix.SOCK_DGRAM, unix.IPPROTO_UDP
	case SCTP:
		proto = unix.IPPROTO_SCTP
	}
	addrs := []netip.Addr{netip.IPv4Unspecified(), netip.IPv6Unspecified()}
	if p.HostIP.IsValid() {
		addrs = []netip.Addr{p.HostIP}
	}
	for _, addr := range addrs {
		err := tryBind(addr, p.Port, sockType, proto, p.Protocol == TCP)
		if errors.Is(err, unix.EADDRINUSE) {
			return fmt.Errorf("hostPort %s is in use by a process on the node: %w", p, errdefs.ErrFailedPrecondition)
		}
		// Any other outcome means nothing is known to hold the port there:
		// success, or a question the kernel cannot answer (no IPv6, no SCTP,
		// an address that is not the node's).
	}
	return nil
}

func tryBind(addr netip.Addr, port uint16, sockType, proto int, reuseAddr bool) error {
	var domain int
	var sa unix.Sockaddr
	if addr.Is4() {
		domain, sa = unix.AF_INET, &unix.SockaddrInet4{Port: int(port), Addr: addr.As4()}
	} else {
		domain, sa = unix.AF_INET6, &unix.SockaddrInet6{Port: int(port), Addr: addr.As16()}
	}
	fd, err := unix.Socket(domain, sockType|unix.SOCK_CLOEXEC, proto)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if reuseAddr {
		// As every server sets it: TIME_WAIT leftovers do not hold a port.
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
			return err
		}
	}
	if domain == unix.AF_INET6 {
		// IPv4 has its own probe; this one asks about IPv6 only.
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 1); err != nil {
			return err
		}
	}
	return unix.Bind(fd, sa)
}
