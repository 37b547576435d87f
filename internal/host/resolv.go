package host

import (
	"bufio"
	"bytes"
	"net/netip"
	"os"
	"strings"
)

const (
	hostResolvConf     = "/etc/resolv.conf"
	resolvedResolvConf = "/run/systemd/resolve/resolv.conf"
)

// ResolvConf returns the file pods without a DNS config get as
// /etc/resolv.conf. When the host's file only points at systemd-resolved's
// local stub (127.0.0.53), that address means nothing inside a pod's
// network namespace, so resolved's list of real upstream servers is used.
func ResolvConf() string { return chooseResolvConf(hostResolvConf, resolvedResolvConf) }

func chooseResolvConf(hostFile, resolvedFile string) string {
	data, err := os.ReadFile(hostFile)
	if err != nil || !onlyLoopbackNameservers(data) {
		return hostFile
	}
	if _, err := os.Stat(resolvedFile); err != nil {
		return hostFile
	}
	return resolvedFile
}

func onlyLoopbackNameservers(resolv []byte) bool {
	seen := false
	s := bufio.NewScanner(bytes.NewReader(resolv))
	for s.Scan() {
		f := strings.Fields(s.Text())
		if len(f) < 2 || f[0] != "nameserver" {
			continue
		}
		addr, err := netip.ParseAddr(f[1])
		if err != nil || !addr.IsLoopback() {
			return false
		}
		seen = true
	}
	return seen
}

// SystemdIsInit reports whether systemd runs as PID 1, the test runc and
// kubelet use to pick the systemd cgroup driver.
func SystemdIsInit() bool {
	fi, err := os.Lstat("/run/systemd/system")
	return err == nil && fi.IsDir()
}
