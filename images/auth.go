package images

import (
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/url"
	"strings"

	"github.com/containerd/errdefs"
)

// Auth is the registry credential of one pull, as kubelet passes it in
// CRI's AuthConfig. At most one way of authenticating is used, in this
// order: Username and Password, Auth (base64 "user:password"), an
// IdentityToken (an OAuth2 refresh token), a RegistryToken (a bearer token
// sent as is).
//
// An Auth is a secret: it prints, formats and logs redacted, and no error
// made from it quotes it.
type Auth struct {
	Username      string
	Password      string
	Auth          string
	IdentityToken string
	RegistryToken string
	// ServerAddress, when set, limits the credential to that registry
	// host; empty means every host of the pull, mirrors included.
	ServerAddress string
}

// IsZero reports whether there is no credential: an anonymous pull.
func (a Auth) IsZero() bool {
	return a.Username == "" && a.Password == "" && a.Auth == "" && a.IdentityToken == "" && a.RegistryToken == ""
}

// kind names the way of authenticating, for logs.
func (a Auth) kind() string {
	switch {
	case a.Username != "":
		return "username/password"
	case a.Auth != "":
		return "auth"
	case a.IdentityToken != "":
		return "identity-token"
	case a.RegistryToken != "":
		return "registry-token"
	}
	return "anonymous"
}

// String, GoString and LogValue keep the secrets out of every log line,
// error and test failure message.
func (a Auth) String() string {
	if a.IsZero() {
		return "anonymous"
	}
	s := a.kind()
	if a.Username != "" {
		s += " user=" + a.Username
	}
	if a.ServerAddress != "" {
		s += " server=" + a.ServerAddress
	}
	return s + " (secret redacted)"
}

// GoString implements fmt.GoStringer, so %#v is redacted too.
func (a Auth) GoString() string { return "images.Auth{" + a.String() + "}" }

// LogValue implements slog.LogValuer.
func (a Auth) LogValue() slog.Value {
	attrs := []slog.Attr{slog.String("kind", a.kind())}
	if a.Username != "" {
		attrs = append(attrs, slog.String("user", a.Username))
	}
	if a.ServerAddress != "" {
		attrs = append(attrs, slog.String("server", a.ServerAddress))
	}
	return slog.GroupValue(attrs...)
}

// fingerprint tells credentials apart for pull de-duplication without
// keeping or printing them: two pulls of one reference share a download
// only when they authenticate the same way.
func (a Auth) fingerprint() string {
	return hashOf(a.Username, a.Password, a.Auth, a.IdentityToken, a.RegistryToken, a.ServerAddress)
}

// appliesTo reports whether the credential may be sent to registry host
// (host[:port], as contacted). Docker Hub goes by several names
// (docker.io, index.docker.io, registry-1.docker.io); any of them matches
// the others.
func (a Auth) appliesTo(host string) bool {
	if a.ServerAddress == "" {
		return true
	}
	server := a.ServerAddress
	if !strings.Contains(server, "://") {
		server = "https://" + server
	}
	u, err := url.Parse(server)
	if err != nil || u.Host == "" {
		return false
	}
	return canonicalHost(u.Host) == canonicalHost(host)
}

func canonicalHost(h string) string {
	switch h {
	case "docker.io", "index.docker.io", "registry-1.docker.io":
		return "docker.io"
	}
	return h
}

// credentials returns the user name and secret containerd's authorizer
// sends for host: basic auth, or a token request with a password or a
// refresh token. A RegistryToken is not one of these: see bearerHeader.
func (a Auth) credentials(host string) (user, secret string, err error) {
	if !a.appliesTo(host) {
		return "", "", nil
	}
	switch {
	case a.Username != "":
		return a.Username, a.Password, nil
	case a.Auth != "":
		return a.decodeAuth()
	case a.IdentityToken != "":
		// containerd's authorizer takes an empty user with a secret as a
		// refresh token for the OAuth2 token endpoint.
		return "", a.IdentityToken, nil
	}
	return "", "", nil
}

// validate reports a credential that cannot be used with any host.
func (a Auth) validate() error {
	if a.Username == "" && a.Auth != "" {
		_, _, err := a.decodeAuth()
		return err
	}
	return nil
}

// decodeAuth splits docker's base64 "user:password".
func (a Auth) decodeAuth() (user, password string, err error) {
	decoded, err := base64.StdEncoding.DecodeString(a.Auth)
	if err != nil {
		return "", "", fmt.Errorf("registry credential: auth is not valid base64: %w", errdefs.ErrInvalidArgument)
	}
	user, password, ok := strings.Cut(string(decoded), ":")
	if !ok {
		// Never quote the decoded value: it is the password.
		return "", "", fmt.Errorf("registry credential: auth does not decode to user:password: %w", errdefs.ErrInvalidArgument)
	}
	return user, strings.Trim(password, "\x00"), nil
}
