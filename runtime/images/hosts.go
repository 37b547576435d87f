package images

import (
	"context"
	"crypto/sha256"
	"encoding/hex"

	"github.com/containerd/containerd/v2/core/remotes/docker"
	"github.com/containerd/containerd/v2/core/remotes/docker/config"
)

// registryHosts says, for each registry host a reference names, which
// endpoints to try in order and how: the hosts.toml files under dir
// (<dir>/<host>/hosts.toml, in containerd's layout: mirrors, "server",
// plain HTTP, skip_verify, CA and client certificates, headers), else the
// host itself over HTTPS (docker.io is registry-1.docker.io). auth is
// offered to the endpoints it applies to. updateClient lets the caller
// wrap each endpoint's HTTP client (the progress watchdog does).
//
// The files are read at every pull, so editing them needs no restart.
func registryHosts(ctx context.Context, dir string, auth Auth, updateClient config.UpdateClientFunc) docker.RegistryHosts {
	opts := config.HostOptions{
		UpdateClient: updateClient,
		Credentials:  auth.credentials,
	}
	if dir != "" {
		opts.HostDir = config.HostDirFromRoot(dir)
	}
	hosts := config.ConfigureHosts(ctx, opts)
	if auth.RegistryToken == "" || auth.Username != "" || auth.Auth != "" || auth.IdentityToken != "" {
		return hosts
	}
	return func(host string) ([]docker.RegistryHost, error) {
		endpoints, err := hosts(host)
		if err != nil {
			return nil, err
		}
		for i := range endpoints {
			if auth.appliesTo(endpoints[i].Host) {
				endpoints[i].Authorizer = bearerAuthorizer{token: auth.RegistryToken}
			}
		}
		return endpoints, nil
	}
}

// hashOf is a digest of parts that cannot be turned back into them.
func hashOf(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}
