package cri

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/containerd/errdefs"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

func call(env *testEnv, method string, handler grpc.UnaryHandler) error {
	_, err := env.svc.unaryInterceptor(context.Background(), nil,
		&grpc.UnaryServerInfo{FullMethod: "/runtime.v1.RuntimeService/" + method}, handler)
	return err
}

func TestErrorClassesBecomeGRPCCodes(t *testing.T) {
	env := newTestEnv(t)
	env.svc.SetReady()
	for _, tc := range []struct {
		err  error
		want codes.Code
	}{
		{fmt.Errorf("sandbox %q: %w", "abc", errdefs.ErrNotFound), codes.NotFound},
		{fmt.Errorf("name reserved: %w", errdefs.ErrAlreadyExists), codes.AlreadyExists},
		{fmt.Errorf("bad port: %w", errdefs.ErrInvalidArgument), codes.InvalidArgument},
		{fmt.Errorf("not running: %w", errdefs.ErrFailedPrecondition), codes.FailedPrecondition},
		{fmt.Errorf("containerd: %w", errdefs.ErrUnavailable), codes.Unavailable},
		{fmt.Errorf("cni add: %w", context.DeadlineExceeded), codes.DeadlineExceeded},
		{status.Error(codes.ResourceExhausted, "already a status"), codes.ResourceExhausted},
		{errBoom, codes.Unknown},
	} {
		err := call(env, "RunPodSandbox", func(ctx context.Context, req any) (any, error) { return nil, tc.err })
		if got := status.Code(err); got != tc.want {
			t.Errorf("%v -> %v, want %v", tc.err, got, tc.want)
		}
		if !strings.Contains(status.Convert(err).Message(), status.Convert(tc.err).Message()) && tc.want != codes.Unknown {
			t.Errorf("message lost: %q", status.Convert(err).Message())
		}
	}
}

func TestPanicBecomesInternalAndServerSurvives(t *testing.T) {
	env := newTestEnv(t)
	env.svc.SetReady()
	err := call(env, "CreateContainer", func(ctx context.Context, req any) (any, error) {
		var m map[string]int
		m["x"] = 1 //nolint:staticcheck // the panic this test recovers from
		return nil, nil
	})
	if status.Code(err) != codes.Internal || !strings.Contains(err.Error(), "CreateContainer") {
		t.Fatalf("want Internal naming the RPC, got %v", err)
	}
	if _, err := env.runtime.Version(context.Background(), nil); err != nil {
		t.Fatalf("server unusable after a panic: %v", err)
	}
}

func TestNotReadyAnswersUnavailable(t *testing.T) {
	env := newTestEnv(t)
	_, err := env.runtime.ListPodSandbox(context.Background(), &runtimeapi.ListPodSandboxRequest{})
	if status.Code(err) != codes.Unavailable || !strings.Contains(err.Error(), "starting") {
		t.Fatalf("before ready: want Unavailable saying berthd is starting, got %v", err)
	}
	// kubelet reads the metric descriptors once, maybe before berthd is
	// ready: they must not be refused.
	served := false
	if err := call(env, "ListMetricDescriptors", func(context.Context, any) (any, error) { served = true; return nil, nil }); err != nil || !served {
		t.Fatalf("ListMetricDescriptors before ready: served %v, %v; want served", served, err)
	}
	env.svc.SetReady()
	_, err = env.runtime.ListPodSandboxMetrics(context.Background(), &runtimeapi.ListPodSandboxMetricsRequest{})
	if status.Code(err) != codes.Unimplemented {
		t.Fatalf("after ready, an RPC without a handler: want Unimplemented, got %v", err)
	}
	_, err = env.images.ListImages(context.Background(), &runtimeapi.ListImagesRequest{})
	if status.Code(err) != codes.Unimplemented {
		t.Fatalf("ImageService must be registered too: got %v", err)
	}
}

func TestHandlersGetNamespaceAndMetricsCount(t *testing.T) {
	env := newTestEnv(t)
	env.svc.SetReady()
	var ns string
	_ = call(env, "StopPodSandbox", func(ctx context.Context, req any) (any, error) {
		ns, _ = namespaces.Namespace(ctx)
		return nil, errdefs.ErrNotFound
	})
	if ns != "berth-test" {
		t.Fatalf("handler saw namespace %q", ns)
	}
	if got := sampleCount(t, env, "StopPodSandbox", "NotFound"); got != 1 {
		t.Fatalf("StopPodSandbox NotFound observed %d times, want 1", got)
	}
}

func sampleCount(t *testing.T, env *testEnv, method, code string) uint64 {
	t.Helper()
	families, err := env.registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != "berth_cri_request_duration_seconds" {
			continue
		}
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["method"] == method && labels["code"] == code {
				return m.GetHistogram().GetSampleCount()
			}
		}
	}
	return 0
}
