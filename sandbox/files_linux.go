package sandbox

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Files every container of the sandbox mounts.
const (
	HostnameFile = "hostname"
	HostsFile    = "hosts"
	ResolvFile   = "resolv.conf"
)

// shmSize is a pod's /dev/shm, Docker's and containerd's default.
const shmSize = 64 << 20

const defaultHosts = `127.0.0.1	localhost
::1	localhost ip6-localhost ip6-loopback
fe00::0	ip6-localnet
fe00::0	ip6-mcastprefix
fe00::1	ip6-allnodes
fe00::2	ip6-allrouters
`

// writeFiles creates the sandbox's hostname, hosts and resolv.conf in its
// directory.
func writeFiles(md *Metadata, hostResolv string) error {
	dir, cfg := md.Dir, md.Config
	if err := os.MkdirAll(dir, 0o755); err != nil { //nolint:gosec // holds hosts, resolv.conf and hostname, bind-mounted into containers of any UID
		return err
	}
	hostname := md.Hostname()
	hosts := []byte(defaultHosts)
	if md.HostNetwork() {
		// A host-network pod sees the node's hosts file.
		if data, err := os.ReadFile("/etc/hosts"); err == nil {
			hosts = data
		}
	}
	resolv, err := resolvConf(cfg.GetDnsConfig(), hostResolv)
	if err != nil {
		return err
	}
	for name, data := range map[string][]byte{
		HostnameFile: []byte(hostname + "\n"),
		HostsFile:    hosts,
		ResolvFile:   resolv,
	} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil { //nolint:gosec // hosts, resolv.conf and hostname are bind-mounted into containers of any UID, which must read them
			return err
		}
	}
	return nil
}

// resolvConf renders the pod's DNS config, or copies the host's file when
// kubelet gave none (crictl, or dnsPolicy Default handled by kubelet).
func resolvConf(dns *runtimeapi.DNSConfig, hostResolv string) ([]byte, error) {
	if dns == nil || (len(dns.Servers) == 0 && len(dns.Searches) == 0 && len(dns.Options) == 0) {
		data, err := os.ReadFile(hostResolv)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return data, err
	}
	var b strings.Builder
	if len(dns.Searches) > 0 {
		fmt.Fprintf(&b, "search %s\n", strings.Join(dns.Searches, " "))
	}
	for _, s := range dns.Servers {
		fmt.Fprintf(&b, "nameserver %s\n", s)
	}
	if len(dns.Options) > 0 {
		fmt.Fprintf(&b, "options %s\n", strings.Join(dns.Options, " "))
	}
	return []byte(b.String()), nil
}

// mountShm mounts the pod's own /dev/shm tmpfs at path.
func mountShm(path string) error {
	if err := os.MkdirAll(path, 0o700); err != nil {
		return err
	}
	if err := unix.Mount("shm", path, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, fmt.Sprintf("mode=1777,size=%d", shmSize)); err != nil {
		return fmt.Errorf("mount /dev/shm for the pod: %w", err)
	}
	return nil
}

// unmountShm unmounts the pod's /dev/shm and removes its mount point. It
// is idempotent: a missing or unmounted path is fine.
func unmountShm(path string) error {
	if err := unix.Unmount(path, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("unmount pod /dev/shm %s: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}
