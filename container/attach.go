package container

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/errdefs"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// attachIO is a running container's side of attach: a pipe into its stdin
// (only when the config asks for stdin) and its output fanned out to the
// clients attached at the moment. The CRI log writer stays the first
// reader of the output; an attached client sees what is written while it
// is attached, as with docker and containerd.
type attachIO struct {
	stdinR *io.PipeReader
	stdinW *io.PipeWriter
	stdout *fanout
	stderr *fanout
}

func newAttachIO(cfg *runtimeapi.ContainerConfig) *attachIO {
	a := &attachIO{stdout: &fanout{}, stderr: &fanout{}}
	if cfg.GetStdin() {
		a.stdinR, a.stdinW = io.Pipe()
	}
	return a
}

// stdin is the task's stdin: nil (so /dev/null) unless the config asked
// for one.
func (a *attachIO) stdin() io.Reader {
	if a.stdinR == nil {
		return nil
	}
	return a.stdinR
}

// close ends every attachment once the container has exited.
func (a *attachIO) close() {
	if a.stdinW != nil {
		_ = a.stdinW.Close() // the pipe's write end: closing it twice is harmless
	}
	a.stdout.close()
	a.stderr.close()
}

// fanout writes to the log writer and to every attached client. Each
// client has its own queue and writer goroutine: a slow or stuck client
// must not stall the container's output (and so the container) or the
// log. A client stuck for attachStall, or whose write fails, is dropped;
// the container never sees an error.
type fanout struct {
	next    io.Writer
	mu      sync.Mutex
	clients map[*attachClient]struct{}
	closed  bool
}

// attachQueue is how many writes a client may fall behind by before it
// holds the output back; attachStall is how long it may hold it back
// before it is dropped.
const (
	attachQueue = 256
	attachStall = 3 * time.Second
)

type attachClient struct {
	w    io.Writer
	ch   chan []byte
	done chan struct{}
}

func newAttachClient(w io.Writer) *attachClient {
	c := &attachClient{w: w, ch: make(chan []byte, attachQueue), done: make(chan struct{})}
	go func() {
		defer close(c.done)
		for p := range c.ch {
			if _, err := c.w.Write(p); err != nil {
				for range c.ch {
				}
				return
			}
		}
	}()
	return c
}

// in returns w (the log writer, possibly nil) behind the fanout.
func (f *fanout) in(w io.Writer) io.Writer {
	f.next = w
	return f
}

func (f *fanout) Write(p []byte) (int, error) {
	if f.next != nil {
		// The log writer drops and counts what it cannot write; it never
		// holds the container's output back.
		_, _ = f.next.Write(p)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.clients) == 0 {
		return len(p), nil
	}
	buf := append([]byte(nil), p...) // the caller reuses p
	for c := range f.clients {
		select {
		case c.ch <- buf:
			continue
		default:
		}
		// Behind by a full queue: a slow client holds the output back a
		// little (as docker's attach does), a stuck one is let go.
		t := time.NewTimer(attachStall)
		select {
		case c.ch <- buf:
		case <-t.C:
			delete(f.clients, c)
			close(c.ch)
		}
		t.Stop()
	}
	return len(p), nil
}

func (f *fanout) add(w io.Writer) *attachClient {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return nil
	}
	if f.clients == nil {
		f.clients = map[*attachClient]struct{}{}
	}
	c := newAttachClient(w)
	f.clients[c] = struct{}{}
	return c
}

// remove detaches c and waits, briefly, for what it was still owed.
func (f *fanout) remove(c *attachClient) {
	f.mu.Lock()
	if _, ok := f.clients[c]; ok {
		delete(f.clients, c)
		close(c.ch)
	}
	f.mu.Unlock()
	select {
	case <-c.done:
	case <-time.After(ioDrainTimeout):
	}
}

func (f *fanout) close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	for c := range f.clients {
		close(c.ch)
	}
	f.clients = nil
}

// Attach connects a client to a running container's stdin and output
// until the container exits or ctx ends (the client went away). stdin is
// used only when the container was created with stdin; when it ends and
// the config says stdin_once, the container's stdin is closed too, as
// kubectl attach -i expects. stdout and stderr may be nil; with a TTY all
// output arrives on stdout.
func (m *Manager) Attach(ctx context.Context, id string, stdin io.Reader, stdout, stderr io.Writer) error {
	c, err := m.store.Get(id)
	if err != nil {
		return err
	}
	if st := c.Status(); st.State != runtimeapi.ContainerState_CONTAINER_RUNNING {
		return fmt.Errorf("container %s is %s, not running: %w", c.ID, stateName(st), errdefs.ErrFailedPrecondition)
	}
	a := c.attachIO()
	if a == nil {
		return fmt.Errorf("container %s has no IO to attach to: %w", c.ID, errdefs.ErrFailedPrecondition)
	}
	for _, s := range []struct {
		f *fanout
		w io.Writer
	}{{a.stdout, stdout}, {a.stderr, stderr}} {
		if s.w == nil {
			continue
		}
		client := s.f.add(s.w)
		if client == nil {
			return nil // exited meanwhile: nothing more to see
		}
		defer s.f.remove(client)
	}
	if stdin != nil && a.stdinW != nil {
		go func() {
			// Ends when the client hangs up or the container's stdin closes;
			// either way the attach is over.
			_, _ = io.Copy(a.stdinW, stdin)
			if c.Config.GetStdinOnce() {
				_ = a.stdinW.Close()
				m.closeStdin(ctx, c.ID)
			}
		}()
	}
	select {
	case <-c.Exited():
	case <-ctx.Done():
	}
	return nil
}

// closeStdin makes the container's process see EOF on stdin. Closing our
// end of the fifo is not enough: the shim holds it open for a later
// attach, and only CloseIO makes it close the process's stdin.
func (m *Manager) closeStdin(ctx context.Context, id string) {
	ctx, cancel := cleanupContext(ctx)
	defer cancel()
	cont, err := m.cfg.Client.LoadContainer(ctx, id)
	if err != nil {
		return
	}
	task, err := cont.Task(ctx, nil)
	if err != nil {
		return
	}
	if err := task.CloseIO(ctx, containerd.WithStdinCloser); err != nil && !isGone(err) {
		m.log.Warn("closing a container's stdin after attach", "container", id, "error", err)
	}
}
