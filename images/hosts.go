package images

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"

	"github.com/containerd/containerd/v2/core/remotes/docker/config"
	"github.com/containerd/containerd/v2/core/transfer/registry"
	"github.com/containerd/errdefs"
	"github.com/distribution/reference"
)

// registrySource is where containerd's transfer service pulls named from:
// the registry hosts of the hosts.toml files under dir
// (<dir>/<host>/hosts.toml, in containerd's layout: mirrors, "server",
// plain HTTP, skip_verify, CA and client certificates, headers), else the
// host itself over HTTPS (docker.io is registry-1.docker.io), with auth
// offered to the hosts it applies to.
//
// containerd reads the files itself, at every pull, so editing them needs
// no restart; it runs on this host and sees the same paths. It asks for
// credentials host by host over a stream back to Berth, which answers
// from auth (credentialHelper): the secret crosses containerd's socket
// and is neither stored nor logged there.
func registrySource(ctx context.Context, named reference.Named, dir string, auth Auth) (*registry.OCIRegistry, error) {
	var opts []registry.Opt
	if dir != "" {
		opts = append(opts, registry.WithHostDir(dir))
	}
	switch {
	case auth.Username != "" || auth.Auth != "" || auth.IdentityToken != "":
		if err := auth.validate(); err != nil {
			// Caught here: the transfer service would wait for ever for an
			// answer the helper cannot give.
			return nil, err
		}
		opts = append(opts, registry.WithCredentials(credentialHelper{auth: auth}))
	case auth.RegistryToken != "":
		header, err := bearerHeader(ctx, named, dir, auth)
		if err != nil {
			return nil, err
		}
		if header != nil {
			opts = append(opts, registry.WithHeaders(header))
		}
	}
	return registry.NewOCIRegistry(ctx, named.String(), opts...)
}

// credentialHelper answers the transfer service's credential requests.
// It never fails: registrySource checked the credential first.
type credentialHelper struct{ auth Auth }

func (h credentialHelper) GetCredentials(_ context.Context, _, host string) (registry.Credentials, error) {
	user, secret, err := h.auth.credentials(host)
	if err != nil {
		return registry.Credentials{}, err
	}
	return registry.Credentials{Host: host, Username: user, Secret: secret}, nil
}

// bearerHeader sends a registry token as is, as the Authorization header
// of every request of the pull. containerd 2.4's transfer service has no
// per-host bearer token (its credential stream carries user and secret
// only), so the header goes to every registry host hosts.toml lists for
// the reference, and to a token server that one of them sends the pull to
// (which then answers with its own token). A token limited by its server
// address to some of those hosts but not all cannot be sent that way: that
// pull is refused rather than leak the token to the others.
func bearerHeader(ctx context.Context, named reference.Named, dir string, auth Auth) (http.Header, error) {
	opts := config.HostOptions{}
	if dir != "" {
		opts.HostDir = config.HostDirFromRoot(dir)
	}
	domain := reference.Domain(named)
	endpoints, err := config.ConfigureHosts(ctx, opts)(domain)
	if err != nil {
		return nil, fmt.Errorf("registry hosts of %s: %w", domain, err)
	}
	var applies, others []string
	for _, e := range endpoints {
		if auth.appliesTo(e.Host) {
			applies = append(applies, e.Host)
		} else {
			others = append(others, e.Host)
		}
	}
	switch {
	case len(applies) == 0:
		return nil, nil // a token for another registry: sent nowhere
	case len(others) == 0:
		return http.Header{"Authorization": {"Bearer " + auth.RegistryToken}}, nil
	}
	return nil, fmt.Errorf("registry token for %s: the hosts of %s (hosts.toml) include others it is not for (%s), and Berth cannot send a registry token to some hosts of a pull only: %w",
		auth.ServerAddress, domain, strings.Join(others, ", "), errdefs.ErrFailedPrecondition)
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
