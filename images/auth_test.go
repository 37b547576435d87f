package images

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/containerd/containerd/v2/core/remotes/docker"
	"github.com/containerd/errdefs"
)

const secret = "s3cr3t-Pa55"

func TestAuthCredentials(t *testing.T) {
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	for _, tc := range []struct {
		name               string
		auth               Auth
		host               string
		wantUser, wantPass string
		wantErr            bool
	}{
		{name: "anonymous", host: "r.example"},
		{name: "user and password", auth: Auth{Username: "u", Password: secret}, host: "r.example", wantUser: "u", wantPass: secret},
		{name: "auth field", auth: Auth{Auth: b64("u:" + secret)}, host: "r.example", wantUser: "u", wantPass: secret},
		{name: "auth field, password with colon", auth: Auth{Auth: b64("u:a:b")}, host: "r.example", wantUser: "u", wantPass: "a:b"},
		{name: "auth field not base64", auth: Auth{Auth: "%%%" + secret}, host: "r.example", wantErr: true},
		{name: "auth field without colon", auth: Auth{Auth: b64(secret)}, host: "r.example", wantErr: true},
		{name: "identity token is a refresh token", auth: Auth{IdentityToken: secret}, host: "r.example", wantPass: secret},
		{name: "registry token is not sent as a password", auth: Auth{RegistryToken: secret}, host: "r.example"},
		{name: "server address matches", auth: Auth{Username: "u", Password: secret, ServerAddress: "r.example:5000"}, host: "r.example:5000", wantUser: "u", wantPass: secret},
		{name: "server address with scheme matches", auth: Auth{Username: "u", Password: secret, ServerAddress: "https://r.example"}, host: "r.example", wantUser: "u", wantPass: secret},
		{name: "server address of another host", auth: Auth{Username: "u", Password: secret, ServerAddress: "other.example"}, host: "r.example"},
		{name: "docker hub aliases", auth: Auth{Username: "u", Password: secret, ServerAddress: "https://index.docker.io/v1/"}, host: "registry-1.docker.io", wantUser: "u", wantPass: secret},
	} {
		t.Run(tc.name, func(t *testing.T) {
			user, pass, err := tc.auth.credentials(tc.host)
			if tc.wantErr {
				if !errdefs.IsInvalidArgument(err) {
					t.Fatalf("err = %v, want InvalidArgument", err)
				}
				if strings.Contains(err.Error(), secret) {
					t.Fatalf("the error quotes the secret: %v", err)
				}
				return
			}
			if err != nil || user != tc.wantUser || pass != tc.wantPass {
				t.Fatalf("credentials(%q) = %q, %q, %v; want %q, %q", tc.host, user, pass, err, tc.wantUser, tc.wantPass)
			}
		})
	}
}

// TestAuthNeverPrinted formats and logs credentials every way the code
// base might, and looks for the secrets in the output.
func TestAuthNeverPrinted(t *testing.T) {
	auths := []Auth{
		{Username: "u", Password: secret, ServerAddress: "r.example"},
		{Auth: base64.StdEncoding.EncodeToString([]byte("u:" + secret))},
		{IdentityToken: secret},
		{RegistryToken: secret},
	}
	for _, a := range auths {
		var out bytes.Buffer
		fmt.Fprintf(&out, "%v %+v %#v %s %q\n", a, a, a, a, a)
		fmt.Fprintf(&out, "%v %+v\n", &a, struct{ A Auth }{a})
		slog.New(slog.NewTextHandler(&out, nil)).Info("pull", "auth", a)
		slog.New(slog.NewJSONHandler(&out, nil)).Info("pull", "auth", a)
		err := pullError("docker.io/library/app:1", a, docker.ErrInvalidAuthorization)
		out.WriteString(err.Error())
		for _, s := range []string{secret, a.Auth} {
			if s != "" && strings.Contains(out.String(), s) {
				t.Errorf("%s leaks into:\n%s", a.kind(), out.String())
			}
		}
		if !strings.Contains(out.String(), a.kind()) {
			t.Errorf("the output does not even say how it authenticated (%s):\n%s", a.kind(), out.String())
		}
	}
}

// fakeRegistry answers manifest HEADs for library/app:1 when the request
// authenticates as it wants: basic user/password, or a bearer token.
type fakeRegistry struct {
	user, password, token string
	requests              []string
}

const appManifest = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

func (f *fakeRegistry) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.requests = append(f.requests, r.Method+" "+r.URL.Path)
	ok := false
	if u, p, has := r.BasicAuth(); has && f.user != "" {
		ok = u == f.user && p == f.password
	}
	if f.token != "" && r.Header.Get("Authorization") == "Bearer "+f.token {
		ok = true
	}
	if !ok {
		w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	if r.URL.Path != "/v2/library/app/manifests/1" {
		w.WriteHeader(http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
	w.Header().Set("Docker-Content-Digest", appManifest)
	w.Header().Set("Content-Length", "0")
}

// hostsDir writes a hosts.toml sending docker.io to the fake registry
// over plain HTTP, as an operator's mirror configuration would.
func hostsDir(t *testing.T, url string) string {
	dir := t.TempDir()
	p := filepath.Join(dir, "docker.io", "hosts.toml")
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	toml := fmt.Sprintf("server = %q\n\n[host.%q]\n  capabilities = [\"pull\", \"resolve\"]\n", url, url)
	if err := os.WriteFile(p, []byte(toml), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestRegistrySourceAuthenticates resolves through the source a pull
// hands containerd's transfer service: containerd builds the same resolver
// from it, and Berth resolves with it to type a failed pull's error.
func TestRegistrySourceAuthenticates(t *testing.T) {
	reg := &fakeRegistry{user: "u", password: secret, token: "tok-" + secret}
	srv := httptest.NewServer(reg)
	defer srv.Close()
	dir := hostsDir(t, srv.URL)
	host := strings.TrimPrefix(srv.URL, "http://")
	named, err := Normalize("docker.io/library/app:1")
	if err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name    string
		auth    Auth
		wantErr func(error) bool
		wantMsg string
	}{
		{name: "right password", auth: Auth{Username: "u", Password: secret}},
		{name: "right password as docker's auth", auth: Auth{Auth: base64.StdEncoding.EncodeToString([]byte("u:" + secret))}},
		{name: "right password for the mirror's address", auth: Auth{Username: "u", Password: secret, ServerAddress: srv.URL}},
		{name: "registry token", auth: Auth{RegistryToken: "tok-" + secret}},
		{name: "registry token for the mirror's address", auth: Auth{RegistryToken: "tok-" + secret, ServerAddress: srv.URL}},
		{name: "anonymous", wantErr: errdefs.IsUnauthorized, wantMsg: "requires credentials"},
		{name: "wrong password", auth: Auth{Username: "u", Password: "wrong"}, wantErr: errdefs.IsUnauthorized, wantMsg: "rejected the credentials"},
		{name: "wrong registry token", auth: Auth{RegistryToken: "wrong"}, wantErr: errdefs.IsUnauthorized, wantMsg: "rejected the credentials"},
		{name: "credential for another registry is not sent", auth: Auth{Username: "u", Password: secret, ServerAddress: "other.example"}, wantErr: errdefs.IsUnauthorized},
		{name: "registry token for another registry is not sent", auth: Auth{RegistryToken: "tok-" + secret, ServerAddress: "other.example"}, wantErr: errdefs.IsUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reg.requests = nil
			src, err := registrySource(context.Background(), named, dir, tc.auth)
			if err != nil {
				t.Fatal(err)
			}
			_, desc, err := src.Resolve(context.Background())
			if len(reg.requests) == 0 {
				t.Fatalf("nothing reached the mirror at %s: hosts.toml was not honoured (err %v)", host, err)
			}
			if tc.wantErr == nil {
				if err != nil || desc.Digest.String() != appManifest {
					t.Fatalf("Resolve = %v, %v; want %s", desc.Digest, err, appManifest)
				}
				return
			}
			perr := pullError("docker.io/library/app:1", tc.auth, err)
			if !tc.wantErr(perr) || !strings.Contains(perr.Error(), tc.wantMsg) {
				t.Fatalf("error = %v; want another class or a message with %q", perr, tc.wantMsg)
			}
			if strings.Contains(perr.Error(), secret) {
				t.Fatalf("the error quotes the secret: %v", perr)
			}
		})
	}
}

// TestRegistrySourceRefuses: what cannot be handed to the transfer
// service fails before it, without quoting the secret.
func TestRegistrySourceRefuses(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "docker.io", "hosts.toml")
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	mirror := "[host.\"http://mirror.example\"]\n  capabilities = [\"pull\", \"resolve\"]\n"
	if err := os.WriteFile(p, []byte(mirror), 0o644); err != nil {
		t.Fatal(err)
	}
	named, err := Normalize("docker.io/library/app:1")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		auth    Auth
		wantErr func(error) bool
	}{
		{name: "auth that is not base64", auth: Auth{Auth: "%%%" + secret, ServerAddress: "other.example"}, wantErr: errdefs.IsInvalidArgument},
		// The mirror is not docker.io: the token would go to both.
		{name: "registry token for some of the hosts", auth: Auth{RegistryToken: secret, ServerAddress: "docker.io"}, wantErr: errdefs.IsFailedPrecondition},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := registrySource(context.Background(), named, dir, tc.auth)
			t.Log(err)
			if !tc.wantErr(err) || strings.Contains(err.Error(), secret) {
				t.Fatalf("err = %v", err)
			}
		})
	}
}
