package streaming

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/containerd/errdefs"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	"k8s.io/cri-streaming/pkg/streaming"
	"k8s.io/cri-streaming/pkg/streaming/remotecommand"

	"github.com/berth-cri/berth/container"
	"github.com/berth-cri/berth/sandbox"
)

// Config is what a Runtime serves sessions from: the containers and
// sandboxes it finds by ID, containerd for their tasks, and the directory
// for exec processes' IO fifos.
type Config struct {
	Client *containerd.Client
	// Namespace is the containerd namespace of Berth's containers.
	Namespace  string
	Containers *container.Manager
	Sandboxes  *sandbox.Store
	// State holds exec processes' IO fifos.
	State  string
	Logger *slog.Logger
}

// Runtime runs the sessions the streaming library accepted.
type Runtime struct {
	cfg Config
	log *slog.Logger
}

var _ streaming.Runtime = (*Runtime)(nil)

// NewRuntime returns a Runtime.
func NewRuntime(cfg Config) *Runtime {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Runtime{cfg: cfg, log: cfg.Logger}
}

func (r *Runtime) ctx(ctx context.Context) context.Context {
	return namespaces.WithNamespace(ctx, r.cfg.Namespace)
}

func (r *Runtime) fifoDir(execID string) string {
	return filepath.Join(r.cfg.State, "exec", execID)
}

// runningContainer finds a container that is running.
func (r *Runtime) runningContainer(id string) (*container.Container, error) {
	c, err := r.cfg.Containers.Store().Get(id)
	if err != nil {
		return nil, err
	}
	if st := c.Status(); st.State != runtimeapi.ContainerState_CONTAINER_RUNNING {
		return nil, fmt.Errorf("container %s is %s, not running: %w", c.ID, st.State, errdefs.ErrFailedPrecondition)
	}
	return c, nil
}

// Attach connects the client to a running container's IO; a TTY
// container's window follows the client's.
func (r *Runtime) Attach(ctx context.Context, id string, in io.Reader, out, errw io.WriteCloser, tty bool, resize <-chan remotecommand.TerminalSize) error {
	c, err := r.runningContainer(id)
	if err != nil {
		return err
	}
	ctx = r.ctx(ctx)
	if tty && resize != nil {
		if task, err := r.task(ctx, c.ID); err == nil {
			go followResize(ctx, resize, func(ctx context.Context, w, h uint32) error { return task.Resize(ctx, w, h) })
		}
	}
	var stdout, stderr io.Writer
	if out != nil {
		stdout = out
	}
	if errw != nil {
		stderr = errw
	}
	return r.cfg.Containers.Attach(ctx, c.ID, in, stdout, stderr)
}

func (r *Runtime) task(ctx context.Context, id string) (containerd.Task, error) {
	cont, err := r.cfg.Client.LoadContainer(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("load container: %w", err)
	}
	task, err := cont.Task(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("load task: %w", err)
	}
	return task, nil
}

// followResize applies the client's terminal size changes until the
// session ends.
func followResize(ctx context.Context, resize <-chan remotecommand.TerminalSize, apply func(context.Context, uint32, uint32) error) {
	for {
		select {
		case <-ctx.Done():
			return
		case size, ok := <-resize:
			if !ok {
				return
			}
			if size.Width == 0 || size.Height == 0 {
				continue
			}
			// A failed resize (the process just exited) is not worth
			// ending the session for.
			_ = apply(ctx, uint32(size.Width), uint32(size.Height))
		}
	}
}
