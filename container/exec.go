package container

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/cio"
	"github.com/containerd/errdefs"
	"github.com/containerd/ttrpc"
	"github.com/opencontainers/runtime-spec/specs-go"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/berth-cri/berth/internal/guard"
)

// MaxExecOutput caps each of ExecSync's stdout and stderr: a command that
// writes without end must not take the node's memory (the 2022 CRI-O and
// containerd audits). Output past it is dropped.
const MaxExecOutput = 16 << 20

// ExecResult is a finished ExecSync.
type ExecResult struct {
	Stdout, Stderr []byte
	ExitCode       int32
}

// ExecSync runs cmd in a running container's namespaces and cgroup, as its
// process runs (user, env, working directory), and returns its output and
// exit code. A positive timeout kills the command when it passes and
// returns an error that wraps context.DeadlineExceeded.
func (m *Manager) ExecSync(ctx context.Context, id string, cmd []string, timeout time.Duration) (*ExecResult, error) {
	if len(cmd) == 0 {
		return nil, fmt.Errorf("exec needs a command: %w", errdefs.ErrInvalidArgument)
	}
	c, err := m.store.Get(id)
	if err != nil {
		return nil, err
	}
	if st := c.Status(); st.State != runtimeapi.ContainerState_CONTAINER_RUNNING {
		return nil, fmt.Errorf("container %s is %s, not running: %w", c.ID, stateName(st), errdefs.ErrFailedPrecondition)
	}
	proc, task, err := m.ExecBase(ctx, c)
	if err != nil {
		return nil, err
	}
	proc.Args = cmd
	proc.Terminal = false

	stdout, stderr := &cappedBuffer{max: MaxExecOutput}, &cappedBuffer{max: MaxExecOutput}
	execID := newID()[:32]
	fifoDir := m.fifoDir(c.ID)
	if err := os.MkdirAll(fifoDir, 0o700); err != nil {
		return nil, err
	}
	p, err := task.Exec(ctx, execID, &proc, cio.NewCreator(cio.WithStreams(nil, stdout, stderr), cio.WithFIFODir(fifoDir)))
	if err != nil {
		return nil, m.execFailed(ctx, c, "exec", err)
	}
	// The delete runs after the answer: the shim waits up to 10s for the
	// output of a process whose child still holds it, and kubelet's probe
	// must not.
	defer func() {
		go func() {
			defer guard.Recover(m.log, "delete exec "+execID+" of container "+c.ID, nil)
			cctx, cancel := cleanupContext(ctx)
			defer cancel()
			if _, err := p.Delete(cctx, containerd.WithProcessKill); err != nil && !errdefs.IsNotFound(err) {
				m.log.Warn("deleting an exec process", "container", c.ID, "exec", execID, "error", err)
			}
		}()
	}()
	exitC, err := p.Wait(context.WithoutCancel(ctx))
	if err != nil {
		return nil, m.execFailed(ctx, c, "wait on exec", err)
	}
	if err := p.Start(ctx); err != nil {
		return nil, m.execFailed(ctx, c, "start exec", err)
	}

	var deadline <-chan time.Time
	if timeout > 0 {
		timer := time.NewTimer(timeout)
		defer timer.Stop()
		deadline = timer.C
	}
	var st containerd.ExitStatus
	select {
	case st = <-exitC:
	case <-deadline:
		m.killExec(ctx, p, exitC)
		return nil, fmt.Errorf("command %q in container %s: timeout %v exceeded: %w", cmd, c.ID, timeout, context.DeadlineExceeded)
	case <-ctx.Done():
		m.killExec(ctx, p, exitC)
		return nil, fmt.Errorf("command %q in container %s: %w", cmd, c.ID, ctx.Err())
	}
	if err := st.Error(); err != nil {
		return nil, fmt.Errorf("wait on exec: %w", err)
	}
	// Output may still be in flight; a background child that kept stdout
	// open must not hold the answer up, so the drain is bounded.
	drained := make(chan struct{})
	go func() { p.IO().Wait(); close(drained) }()
	select {
	case <-drained:
	case <-time.After(ioDrainTimeout):
		p.IO().Cancel()
	}
	return &ExecResult{Stdout: stdout.Bytes(), Stderr: stderr.Bytes(), ExitCode: int32(st.ExitCode())}, nil
}

// execFailed is the error of an exec that failed in step what. An exec
// that raced its container's exit (kubelet's probe beside StopContainer)
// finds the task gone, or the pod's shim closed under it once the task
// was deleted: when the exit is then recorded (exitedMeanwhile, as for a
// kill that raced it), the container is no longer running, and that is
// said as FailedPrecondition rather than as the transport's "ttrpc:
// closed". Any other error, such as a command that is not there, is
// returned at once.
func (m *Manager) execFailed(ctx context.Context, c *Container, what string, err error) error {
	raced := errdefs.IsNotFound(err) || strings.Contains(err.Error(), ttrpc.ErrClosed.Error())
	if raced && m.exitedMeanwhile(ctx, c, err) {
		return fmt.Errorf("container %s exited while the exec started (%s: %v): %w", c.ID, what, err, errdefs.ErrFailedPrecondition)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// execBase is what every exec in a running container starts from.
type execBase struct {
	process specs.Process
	task    containerd.Task
}

// ExecBase returns the process an exec in the running container c starts
// from (its own process's user, env, working directory and limits) and c's
// task. They are read from containerd at the first exec and kept until
// UpdateContainerResources changes the spec: the task lives as long as the
// container runs. Exec probes then skip three round trips each. The caller
// may set the returned process's fields but not change what its slices
// hold.
func (m *Manager) ExecBase(ctx context.Context, c *Container) (specs.Process, containerd.Task, error) {
	if b := c.exec.Load(); b != nil {
		return b.process, b.task, nil
	}
	cont, err := m.cfg.Client.LoadContainer(ctx, c.ID)
	if err != nil {
		return specs.Process{}, nil, fmt.Errorf("load container: %w", err)
	}
	spec, err := cont.Spec(ctx)
	if err != nil {
		return specs.Process{}, nil, fmt.Errorf("container spec: %w", err)
	}
	if spec.Process == nil {
		return specs.Process{}, nil, fmt.Errorf("container %s has no process in its spec: %w", c.ID, errdefs.ErrFailedPrecondition)
	}
	task, err := cont.Task(ctx, nil)
	if err != nil {
		return specs.Process{}, nil, fmt.Errorf("load task: %w", err)
	}
	b := &execBase{process: *spec.Process, task: task}
	c.exec.CompareAndSwap(nil, b)
	return b.process, b.task, nil
}

// killExec kills a timed-out exec process and waits briefly for its exit.
func (m *Manager) killExec(ctx context.Context, p containerd.Process, exitC <-chan containerd.ExitStatus) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), killWait)
	defer cancel()
	if err := p.Kill(ctx, syscall.SIGKILL); err != nil && !isGone(err) {
		m.log.Warn("killing a timed-out exec process", "exec", p.ID(), "error", err)
	}
	select {
	case <-exitC:
	case <-time.After(5 * time.Second):
	}
	p.IO().Cancel()
}

// cappedBuffer keeps the first max bytes written and drops the rest, and
// never fails a write: the process must not see EPIPE for a full buffer.
type cappedBuffer struct {
	mu   sync.Mutex
	max  int
	data []byte
}

func (b *cappedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := b.max - len(b.data); room > 0 {
		b.data = append(b.data, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

func (b *cappedBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]byte(nil), b.data...)
}
