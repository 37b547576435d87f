package streaming

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	"k8s.io/cri-streaming/pkg/streaming"
)

// Server is the streaming HTTP server and the URL issuer the CRI RPCs use.
type Server struct {
	urls     streaming.Server
	http     *http.Server
	listener net.Listener
	log      *slog.Logger
}

// NewServer listens on address (host:port, port 0 picks one) and returns
// a Server that issues URLs for the address actually bound. It serves
// nothing until Serve.
func NewServer(address string, tlsConfig *tls.Config, rt streaming.Runtime, log *slog.Logger) (*Server, error) {
	l, err := net.Listen("tcp", address)
	if err != nil {
		return nil, fmt.Errorf("streaming server: %w", err)
	}
	// The library would listen itself, but it learns the port only then:
	// a URL issued before that would name port 0. Listening first makes
	// every URL point at the bound address.
	cfg := streaming.DefaultConfig
	cfg.Addr = l.Addr().String()
	cfg.TLSConfig = tlsConfig
	srv, err := streaming.NewServer(cfg, rt)
	if err != nil {
		l.Close()
		return nil, fmt.Errorf("streaming server: %w", err)
	}
	if tlsConfig != nil {
		l = tls.NewListener(l, tlsConfig)
	}
	return &Server{
		urls:     srv,
		http:     &http.Server{Handler: srv, ReadHeaderTimeout: 30 * time.Second},
		listener: l,
		log:      log,
	}, nil
}

// Addr is the address the server listens on.
func (s *Server) Addr() string { return s.listener.Addr().String() }

// Serve serves sessions until Close.
func (s *Server) Serve() error {
	if err := s.http.Serve(s.listener); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Close stops the server and ends open sessions.
func (s *Server) Close() error { return s.http.Close() }

// GetExec returns a single-use URL for an Exec session.
func (s *Server) GetExec(r *runtimeapi.ExecRequest) (*runtimeapi.ExecResponse, error) {
	return s.urls.GetExec(r)
}

// GetAttach returns a single-use URL for an Attach session.
func (s *Server) GetAttach(r *runtimeapi.AttachRequest) (*runtimeapi.AttachResponse, error) {
	return s.urls.GetAttach(r)
}

// GetPortForward returns a single-use URL for a PortForward session.
func (s *Server) GetPortForward(r *runtimeapi.PortForwardRequest) (*runtimeapi.PortForwardResponse, error) {
	return s.urls.GetPortForward(r)
}

// URLs is what the CRI RPCs need: a single-use URL per request.
type URLs interface {
	GetExec(*runtimeapi.ExecRequest) (*runtimeapi.ExecResponse, error)
	GetAttach(*runtimeapi.AttachRequest) (*runtimeapi.AttachResponse, error)
	GetPortForward(*runtimeapi.PortForwardRequest) (*runtimeapi.PortForwardResponse, error)
}

var _ URLs = (*Server)(nil)
