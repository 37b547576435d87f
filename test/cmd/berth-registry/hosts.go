package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// defaultHosts are redirected even when no image of the layout names them,
// so a test that pulls an image Berth does not build fails fast against
// the local registry instead of reaching for the network.
var defaultHosts = []string{
	"docker.io", "registry-1.docker.io", "gcr.io", "k8s.gcr.io", "registry.k8s.io",
	"quay.io", "ghcr.io", "public.ecr.aws",
}

func mergeHosts(a, b []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, h := range append(append([]string{}, a...), b...) {
		if h == "" || seen[h] {
			continue
		}
		seen[h] = true
		out = append(out, h)
	}
	sort.Strings(out)
	return out
}

// hostDirName is containerd's directory name for a registry host: a
// ":port" suffix becomes "_port_" (see HostDirFromRoot in containerd's
// core/remotes/docker/config).
func hostDirName(host string) string {
	if i := strings.LastIndex(host, ":"); i > 0 {
		return host[:i] + "_" + host[i+1:] + "_"
	}
	return host
}

// hostsTOML sends every pull for one upstream host to the registry at
// addr. The top-level server must be ours too: containerd falls back to
// "server", and without one it would fall back to the upstream host.
// Images are referenced as docker.io/..., and containerd looks the
// docker.io directory up for them; registry-1.docker.io only matters to a
// reference that names it.
//
// There is deliberately no skip_verify: any TLS setting on a host makes
// containerd try HTTPS first on an http:// host and fall back to HTTP
// only after that fails, a wasted handshake on every connection.
func hostsTOML(addr string) string {
	url := "http://" + addr
	return fmt.Sprintf(`# Written by berth-registry: all pulls go to the local test registry.
server = %q
capabilities = ["pull", "resolve"]

[host.%q]
  capabilities = ["pull", "resolve"]
`, url, url)
}

// writeHostsDir writes DIR/<host>/hosts.toml for each host.
func writeHostsDir(dir string, hosts []string, addr string) error {
	content := []byte(hostsTOML(addr))
	for _, h := range hosts {
		p := filepath.Join(dir, hostDirName(h), "hosts.toml")
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return fmt.Errorf("creating hosts directory for %s: %w", h, err)
		}
		if err := writeFileAtomic(p, content); err != nil {
			return err
		}
	}
	return nil
}

// writeFileAtomic writes beside path and renames, so a reader polling for
// the file never sees it half written.
func writeFileAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("renaming %s: %w", tmp, err)
	}
	return nil
}
