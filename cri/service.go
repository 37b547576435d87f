package cri

import (
	"context"
	"log/slog"
	"sync/atomic"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/berth-cri/berth/container"
	"github.com/berth-cri/berth/internal/handlers"
	"github.com/berth-cri/berth/internal/lifecycle"
	"github.com/berth-cri/berth/runtime/stats"
	"github.com/berth-cri/berth/runtime/streaming"
	"github.com/berth-cri/berth/sandbox"
)

// ContainerdHealth is the part of the containerd client Status needs.
type ContainerdHealth interface {
	IsServing(ctx context.Context) (bool, error)
}

// NetworkHealth reports whether pod networking can be set up: nil when a
// usable CNI configuration is loaded, else why not.
type NetworkHealth interface {
	Ready() error
}

// Options are the parts of berthd the Service's RPCs call: the sandbox
// and container managers, the images, the runtime handlers, and the health
// of containerd and the network that Status reports. A nil Images answers
// the image RPCs Unimplemented.
type Options struct {
	// Namespace is the containerd namespace every request works in.
	Namespace string
	// Client is the containerd client; nil only in unit tests of RPCs that
	// do not reach containerd.
	Client     *containerd.Client
	Containerd ContainerdHealth
	Network    NetworkHealth
	Sandboxes  *sandbox.Manager
	Containers *container.Manager
	Images     ImageService // nil: image RPCs answer Unimplemented
	// Handlers are the runtime handlers: Status lists them, and image RPCs
	// refuse a handler not among them.
	Handlers     *handlers.Set
	CgroupDriver runtimeapi.CgroupDriver
	// StatusInfo is returned by a verbose Status (crictl info): the
	// effective configuration, as JSON strings by key.
	StatusInfo map[string]string
	Logger     *slog.Logger
	Registerer prometheus.Registerer
	// Streaming issues Exec, Attach and PortForward URLs; nil: those
	// RPCs answer Unimplemented.
	Streaming streaming.URLs
	// Stats serves the stats RPCs; nil: they answer Unimplemented.
	Stats *stats.Collector
	// Events are the sandboxes' and containers' lifecycle events;
	// nil: GetContainerEvents answers Unimplemented.
	Events *lifecycle.Hub
}

// Service implements the CRI RuntimeService and ImageService. RPCs without
// a handler yet answer Unimplemented through the embedded types.
type Service struct {
	runtimeapi.UnimplementedRuntimeServiceServer
	runtimeapi.UnimplementedImageServiceServer

	namespace    string
	client       *containerd.Client
	containerd   ContainerdHealth
	network      NetworkHealth
	sandboxes    *sandbox.Manager
	containers   *container.Manager
	images       ImageService
	handlers     *handlers.Set
	streaming    streaming.URLs
	stats        *stats.Collector
	events       *lifecycle.Hub
	cgroupDriver runtimeapi.CgroupDriver
	statusInfo   map[string]string
	log          *slog.Logger
	metrics      *metrics

	// ready is false until start-up (containerd, state recovery) is done.
	ready atomic.Bool
	// podCIDR is the last pod CIDR kubelet sent (UpdateRuntimeConfig).
	podCIDR atomic.Pointer[string]
}

// New returns a Service that is not ready yet: see SetReady.
func New(opts Options) *Service {
	return &Service{
		namespace:    opts.Namespace,
		client:       opts.Client,
		containerd:   opts.Containerd,
		network:      opts.Network,
		sandboxes:    opts.Sandboxes,
		containers:   opts.Containers,
		images:       opts.Images,
		handlers:     opts.Handlers,
		streaming:    opts.Streaming,
		stats:        opts.Stats,
		events:       opts.Events,
		cgroupDriver: opts.CgroupDriver,
		statusInfo:   opts.StatusInfo,
		log:          opts.Logger,
		metrics:      newMetrics(opts.Registerer),
	}
}

// SetReady opens every RPC; until then only Version, Status and
// RuntimeConfig answer, and the rest say Unavailable.
func (s *Service) SetReady() { s.ready.Store(true) }

// NewGRPCServer returns a gRPC server with the interceptor chain and both
// CRI services registered.
func (s *Service) NewGRPCServer() *grpc.Server {
	srv := grpc.NewServer(
		grpc.ChainUnaryInterceptor(s.unaryInterceptor),
		grpc.ChainStreamInterceptor(s.streamInterceptor),
		// Image pulls and exec output can be large; kubelet's cri-client
		// allows 16 MiB messages too.
		grpc.MaxRecvMsgSize(16*1024*1024),
		// ExecSync answers up to 16 MiB of stdout plus 16 MiB of stderr.
		grpc.MaxSendMsgSize(2*16*1024*1024+64*1024),
	)
	runtimeapi.RegisterRuntimeServiceServer(srv, s)
	runtimeapi.RegisterImageServiceServer(srv, s)
	return srv
}
