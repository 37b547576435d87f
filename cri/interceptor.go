package cri

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"path"
	"runtime/debug"
	"strings"
	"time"

	"github.com/containerd/containerd/v2/pkg/namespaces"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// servedBeforeReady are the RPCs kubelet uses to learn whether the runtime
// is up: they answer (with RuntimeReady=false) while start-up is running,
// instead of Unavailable. ListMetricDescriptors answers from constants,
// and kubelet asks it only once, when it starts its server, which may be
// while berthd is still recovering: an error then would leave kubelet's
// /metrics/cadvisor empty until kubelet restarts.
var servedBeforeReady = map[string]bool{"Version": true, "Status": true, "RuntimeConfig": true, "ListMetricDescriptors": true}

type loggerKey struct{}

// logger returns the request-scoped logger the interceptor put in ctx.
func (s *Service) logger(ctx context.Context) *slog.Logger {
	if l, ok := ctx.Value(loggerKey{}).(*slog.Logger); ok {
		return l
	}
	return s.log
}

// readOnly RPCs log at Debug: kubelet calls them every few seconds.
func readOnly(method string) bool {
	for _, p := range []string{"List", "Stream", "Get"} {
		if strings.HasPrefix(method, p) {
			return true
		}
	}
	for _, s := range []string{"Status", "Stats", "Version", "Info", "RuntimeConfig"} {
		if strings.HasSuffix(method, s) {
			return true
		}
	}
	return false
}

// begin runs the part of the chain before the handler and returns the
// context for it and the function that ends the call.
func (s *Service) begin(ctx context.Context, fullMethod string) (context.Context, func(*error), error) {
	method := path.Base(fullMethod)
	if !s.ready.Load() && !servedBeforeReady[method] {
		return nil, nil, status.Errorf(codes.Unavailable, "berthd is starting: %s is served once start-up and state recovery finish", method)
	}
	id := newRequestID()
	level := slog.LevelInfo
	if readOnly(method) {
		level = slog.LevelDebug
	}
	log := s.log.With("rpc", method, "req", id)
	ctx = context.WithValue(namespaces.WithNamespace(ctx, s.namespace), loggerKey{}, log)
	log.Log(ctx, slog.LevelDebug, "request")
	start := time.Now()

	end := func(errp *error) {
		if r := recover(); r != nil {
			log.Error("panic while serving request", "panic", r, "stack", string(debug.Stack()))
			*errp = status.Errorf(codes.Internal, "internal error serving %s (request %s): %v", method, id, r)
		}
		*errp = toGRPC(*errp)
		code := status.Code(*errp)
		took := time.Since(start)
		s.metrics.observe(method, code, took)
		switch {
		case code == codes.Internal || code == codes.Unknown:
			log.Error("request failed", "code", code, "error", *errp, "took", took)
		case *errp != nil:
			log.Log(ctx, level, "request failed", "code", code, "error", status.Convert(*errp).Message(), "took", took)
		default:
			log.Log(ctx, level, "request done", "took", took)
		}
	}
	return ctx, end, nil
}

func (s *Service) unaryInterceptor(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
	ctx, end, err := s.begin(ctx, info.FullMethod)
	if err != nil {
		return nil, err
	}
	defer end(&err)
	resp, err = handler(ctx, req)
	if err != nil {
		return nil, err
	}
	return resp, nil
}

func (s *Service) streamInterceptor(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) (err error) {
	ctx, end, err := s.begin(ss.Context(), info.FullMethod)
	if err != nil {
		return err
	}
	defer end(&err)
	return handler(srv, &contextStream{ServerStream: ss, ctx: ctx})
}

// contextStream hands a stream handler the interceptor's context.
type contextStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (c *contextStream) Context() context.Context { return c.ctx }

func newRequestID() string {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		return fmt.Sprintf("t%d", time.Now().UnixNano())
	}
	return hex.EncodeToString(b[:])
}
