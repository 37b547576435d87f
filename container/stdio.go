package container

import (
	"context"
	"errors"
	"io"
	"sync"

	"github.com/containerd/containerd/v2/pkg/cio"
)

// ioBufSize is what each output stream of a container is copied through,
// for as long as the container runs. containerd's cio.NewCreator copies
// through 32 KiB a stream, 64 KiB a container whose log nobody may ever
// write to; a FIFO read returns what the pipe holds, and the log writer
// cuts lines across reads, so a smaller buffer costs only more reads of a
// container that writes fast. 8 KiB, as conmon's.
const ioBufSize = 8 << 10

// streams is where a task's stdio goes: the FIFOs containerd's shim
// writes (and, for stdin, reads) are made in dir and copied to and from
// these, through ioBufSize buffers. A nil stream gets no FIFO.
type streams struct {
	dir            string
	terminal       bool
	stdin          io.Reader
	stdout, stderr io.Writer
}

// creator makes new FIFOs for a task being created.
func (s streams) creator() cio.Creator {
	return func(id string) (cio.IO, error) {
		fifos, err := cio.NewFIFOSetInDir(s.dir, id, s.terminal)
		if err != nil {
			return nil, err
		}
		return s.attach(fifos)
	}
}

// attach copies the FIFOs of a running task (Load after a restart).
func (s streams) attach(fifos *cio.FIFOSet) (cio.IO, error) {
	if fifos == nil {
		return nil, errors.New("cannot attach: the task has no FIFOs")
	}
	if s.stdin == nil {
		fifos.Stdin = ""
	}
	if s.stdout == nil {
		fifos.Stdout = ""
	}
	if s.stderr == nil || fifos.Terminal {
		fifos.Stderr = ""
	}
	d, err := cio.NewDirectIO(context.Background(), fifos)
	if err != nil {
		return nil, err
	}
	c := &copiedIO{DirectIO: d}
	if d.Stdin != nil {
		go func() {
			copyStream(d.Stdin, s.stdin)
			d.Stdin.Close()
		}()
	}
	if d.Stdout != nil {
		c.wg.Go(func() {
			copyStream(s.stdout, d.Stdout)
			d.Stdout.Close()
		})
	}
	if d.Stderr != nil {
		c.wg.Go(func() {
			copyStream(s.stderr, d.Stderr)
			d.Stderr.Close()
		})
	}
	return c, nil
}

func copyStream(dst io.Writer, src io.Reader) {
	_, _ = io.CopyBuffer(dst, src, make([]byte, ioBufSize))
}

// copiedIO is a task's IO whose output is copied by its own goroutines.
type copiedIO struct {
	*cio.DirectIO
	wg sync.WaitGroup
}

// Wait returns once the output streams ended and everything read was
// written on.
func (c *copiedIO) Wait() { c.wg.Wait() }

// Cancel stops the copies: it closes the FIFOs, so a copy waiting for a
// writer that never came (a task that was not created) ends.
func (c *copiedIO) Cancel() {
	c.DirectIO.Cancel()
	for _, p := range []io.Closer{c.Stdin, c.Stdout, c.Stderr} {
		if p != nil {
			_ = p.Close()
		}
	}
}
