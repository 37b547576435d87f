package streaming

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"sync"
	"syscall"
	"time"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/cio"
	"github.com/containerd/errdefs"
	"k8s.io/cri-streaming/pkg/streaming/remotecommand"
	utilexec "k8s.io/utils/exec"
)

// drainTimeout bounds how long an exited process's output may keep
// flowing: a background child that inherited stdout must not hold the
// session open.
const drainTimeout = 2 * time.Second

// cleanupTimeout bounds the deletion of an exec process, on a context of
// its own: the session's is usually gone by then.
const cleanupTimeout = 30 * time.Second

// Exec runs cmd in a running container, as its process runs (user, env,
// working directory), with the session's streams, and returns when it
// exits. A non-zero exit is a utilexec.CodeExitError, which the library
// reports to the client as the exit code. A client that goes away kills
// the process; a container that exits takes its exec processes with it.
func (r *Runtime) Exec(ctx context.Context, id string, cmd []string, in io.Reader, out, errw io.WriteCloser, tty bool, resize <-chan remotecommand.TerminalSize) error {
	if len(cmd) == 0 {
		return fmt.Errorf("exec needs a command: %w", errdefs.ErrInvalidArgument)
	}
	c, err := r.runningContainer(id)
	if err != nil {
		return err
	}
	ctx = r.ctx(ctx)
	proc, task, err := r.cfg.Containers.ExecBase(ctx, c)
	if err != nil {
		return err
	}
	proc.Args = cmd
	proc.Terminal = tty

	execID := newExecID()
	fifoDir := r.fifoDir(execID)
	if err := os.MkdirAll(fifoDir, 0o700); err != nil {
		return err
	}
	defer os.RemoveAll(fifoDir)

	// started is closed once the process started, or once Exec gave up:
	// the stdin closer waits for it and then needs p to be set.
	started := make(chan struct{})
	var startOnce sync.Once
	markStarted := func() { startOnce.Do(func() { close(started) }) }
	defer markStarted()
	var stdin io.Reader
	var p containerd.Process
	if in != nil {
		// The shim keeps the stdin fifo open, so the process sees EOF
		// only when asked to: close its stdin once the client's ends
		// (echo x | kubectl exec -i ... cat must finish).
		stdin = &eofReader{r: in, onEOF: func() {
			<-started
			if p == nil {
				return
			}
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
			defer cancel()
			if err := p.CloseIO(cctx, containerd.WithStdinCloser); err != nil && !errdefs.IsNotFound(err) {
				r.log.Debug("closing an exec process's stdin", "exec", execID, "error", err)
			}
		}}
	}
	ioOpts := []cio.Opt{cio.WithStreams(stdin, writer(out), writer(errw)), cio.WithFIFODir(fifoDir)}
	if tty {
		ioOpts = append(ioOpts, cio.WithTerminal)
	}
	p, err = task.Exec(ctx, execID, &proc, cio.NewCreator(ioOpts...))
	if err != nil {
		return fmt.Errorf("exec: %w", err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
		defer cancel()
		if _, err := p.Delete(cctx, containerd.WithProcessKill); err != nil && !errdefs.IsNotFound(err) {
			r.log.Warn("deleting an exec process", "container", c.ID, "exec", execID, "error", err)
		}
	}()
	exitC, err := p.Wait(context.WithoutCancel(ctx))
	if err != nil {
		return fmt.Errorf("wait on exec: %w", err)
	}
	if err := p.Start(ctx); err != nil {
		return fmt.Errorf("start exec: %w", err)
	}
	markStarted()
	if tty && resize != nil {
		go followResize(ctx, resize, func(ctx context.Context, w, h uint32) error { return p.Resize(ctx, w, h) })
	}

	var st containerd.ExitStatus
	select {
	case st = <-exitC:
	case <-ctx.Done():
		// The client went away: nobody reads the output any more.
		kctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
		defer cancel()
		if err := p.Kill(kctx, syscall.SIGKILL); err != nil && !errdefs.IsNotFound(err) {
			r.log.Warn("killing an abandoned exec process", "exec", execID, "error", err)
		}
		select {
		case <-exitC:
		case <-time.After(5 * time.Second):
		}
		p.IO().Cancel()
		return fmt.Errorf("exec in container %s: %w", c.ID, ctx.Err())
	}
	drained := make(chan struct{})
	go func() { p.IO().Wait(); close(drained) }()
	select {
	case <-drained:
	case <-time.After(drainTimeout):
		p.IO().Cancel()
	}
	if err := st.Error(); err != nil {
		return fmt.Errorf("wait on exec: %w", err)
	}
	if code := int(st.ExitCode()); code != 0 {
		return utilexec.CodeExitError{Err: fmt.Errorf("command %q exited with %d", cmd, code), Code: code}
	}
	return nil
}

// writer keeps an absent stream a nil io.Writer, so cio discards it.
func writer(w io.WriteCloser) io.Writer {
	if w == nil {
		return nil
	}
	return w
}

// eofReader calls onEOF once, in the background, when r ends.
type eofReader struct {
	r     io.Reader
	once  sync.Once
	onEOF func()
}

func (e *eofReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil {
		e.once.Do(func() { go e.onEOF() })
	}
	return n, err
}

func newExecID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}
