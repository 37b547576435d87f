package main

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"
)

// credentials are the basic auth user and password; empty means no auth.
type credentials struct {
	user, password string
}

func (c credentials) enabled() bool { return c.user != "" }

// config is what start needs.
type config struct {
	addr       string
	layoutDirs []string
	creds      credentials
	log        *log.Logger
}

// server is a running registry loaded with the images of its layouts.
type server struct {
	ln    net.Listener
	http  *http.Server
	errc  chan error
	hosts []string // upstream hosts of the served images
	refs  int      // image names served
}

// start listens, serves, and pushes every image of the layouts before it
// returns, so a caller that sees it return can pull at once.
func start(ctx context.Context, cfg config) (*server, error) {
	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return nil, fmt.Errorf("listening on %s: %w", cfg.addr, err)
	}
	h := registry.New(registry.Logger(cfg.log))
	if cfg.creds.enabled() {
		h = requireBasicAuth(h, cfg.creds)
	}
	s := &server{
		ln:   ln,
		http: &http.Server{Handler: h, ReadHeaderTimeout: 30 * time.Second},
		errc: make(chan error, 1),
	}
	go func() {
		if err := s.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.errc <- err
		}
	}()

	loaded, err := loadLayouts(ctx, cfg.layoutDirs, s.addr(), cfg.creds)
	if err != nil {
		s.close()
		return nil, err
	}
	s.hosts, s.refs = loaded.hosts, loaded.refs
	return s, nil
}

// addr is the host:port the registry listens on.
func (s *server) addr() string { return s.ln.Addr().String() }

func (s *server) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = s.http.Shutdown(ctx)
}

// requireBasicAuth answers 401 with a Basic challenge to any request
// without the right user and password. containerd and go-containerregistry
// both answer such a challenge with the credentials they were given.
func requireBasicAuth(next http.Handler, c credentials) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, password, ok := r.BasicAuth()
		if !ok ||
			subtle.ConstantTimeCompare([]byte(user), []byte(c.user)) != 1 ||
			subtle.ConstantTimeCompare([]byte(password), []byte(c.password)) != 1 {
			w.Header().Set("WWW-Authenticate", `Basic realm="berth-registry"`)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`))
			return
		}
		next.ServeHTTP(w, r)
	})
}
