package cri

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/berth-cri/berth/internal/handlers"
)

// fakeContainerd stands in for the containerd client's health check.
type fakeContainerd struct{ err error }

func (f *fakeContainerd) IsServing(ctx context.Context) (bool, error) { return f.err == nil, f.err }

// fakeNetwork stands in for the CNI manager's readiness.
type fakeNetwork struct{ err error }

func (f *fakeNetwork) Ready() error { return f.err }

type testEnv struct {
	svc        *Service
	runtime    runtimeapi.RuntimeServiceClient
	images     runtimeapi.ImageServiceClient
	containerd *fakeContainerd
	network    *fakeNetwork
	registry   *prometheus.Registry
}

// newTestEnv serves a Service on a real unix socket in a temp dir.
func newTestEnv(t *testing.T) *testEnv {
	t.Helper()
	env := &testEnv{containerd: &fakeContainerd{}, network: &fakeNetwork{}, registry: prometheus.NewRegistry()}
	env.svc = New(Options{
		Handlers:     testHandlers(t),
		Namespace:    "berth-test",
		Containerd:   env.containerd,
		Network:      env.network,
		CgroupDriver: runtimeapi.CgroupDriver_CGROUPFS,
		StatusInfo:   map[string]string{"config": `{"socket":"x"}`},
		Logger:       slog.New(slog.NewTextHandler(io.Discard, nil)),
		Registerer:   env.registry,
	})
	sock := filepath.Join(t.TempDir(), "berth.sock")
	l, err := Listen(sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := env.svc.NewGRPCServer()
	go func() { _ = srv.Serve(l) }() // returns when the test stops the server
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient("unix://"+sock, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	env.runtime = runtimeapi.NewRuntimeServiceClient(conn)
	env.images = runtimeapi.NewImageServiceClient(conn)
	return env
}

var errBoom = errors.New("boom")

// testHandlers are runc, the default, whose `runc features` reports
// recursive read-only mounts, and crun, which has no `features` (1.8).
func testHandlers(t *testing.T) *handlers.Set {
	t.Helper()
	set, err := handlers.New(map[string]handlers.Spec{
		"runc": {Binary: "/usr/bin/runc", Runc: true},
		"crun": {Binary: "/usr/bin/crun"},
	}, "runc", handlers.Node{})
	if err != nil {
		t.Fatal(err)
	}
	set.Probe(context.Background(), handlers.FakeIntrospector{"/usr/bin/runc": {MountOptions: []string{"rro"}}}, handlers.Kernel{RecursiveReadOnly: true, IDMappedLayers: true})
	return set
}
