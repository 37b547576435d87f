package container

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/berth-cri/berth/internal/beneath"
)

// CRI log format (kubelet's pkg/kubelet/kuberuntime/logs): every line is
// "<RFC3339Nano> <stream> <tag> <content>\n", where tag P marks a piece of
// a longer line and F the piece that ends it.
const (
	streamStdout = "stdout"
	streamStderr = "stderr"
	tagPartial   = "P"
	tagFull      = "F"
)

// maxLineSize splits longer lines into P pieces, as containerd does, so
// one unterminated stream cannot make a log line unbounded.
const maxLineSize = 16 * 1024

// maxPending is how many bytes of log lines may wait for the disk. Beyond
// it lines are dropped and counted: a container must never block on its
// stdout because the node's disk is slow.
const maxPending = 8 << 20

// logFile writes a container's stdout and stderr to its CRI log file. The
// container's output is read into a queue without ever waiting on the
// disk; one goroutine drains the queue into the file.
type logFile struct {
	// dir is the pod's log directory; rel, the file below it (log_path),
	// which is opened with no symlink on the way (see beneath).
	dir, rel string
	path     string
	log      *slog.Logger
	now      func() time.Time

	// fileMu guards f, which ReopenContainerLog replaces.
	fileMu sync.Mutex
	f      *os.File

	// queueMu guards closed, queue and spare; queued wakes the writer.
	// The queue holds only the lines not yet written, bounded by
	// maxPending bytes: a quiet container's log costs no buffer.
	queueMu sync.Mutex
	queued  *sync.Cond
	closed  bool
	queue   [][]byte
	spare   [][]byte // the writer's last batch, emptied, for reuse
	pending atomic.Int64
	dropped atomic.Uint64
	done    chan struct{}
}

// maxSpare is the largest batch slice kept for reuse; a burst's larger
// one is left to the garbage collector.
const maxSpare = 1024

// openLogFile creates (or appends to) the log file rel below dir and
// starts the goroutine that writes to it.
func openLogFile(dir, rel string, log *slog.Logger) (*logFile, error) {
	f, err := createLogFile(dir, rel)
	if err != nil {
		return nil, err
	}
	l := &logFile{dir: dir, rel: rel, path: f.Name(), log: log, now: time.Now, f: f, done: make(chan struct{})}
	l.queued = sync.NewCond(&l.queueMu)
	go l.run()
	return l, nil
}

// createLogFile opens the log file as root, below a directory that pods
// with a hostPath on /var/log can write (log shippers): a symlink planted
// there, before start or between kubelet's rotation and the reopen, must
// not make berthd append to, or create, a file elsewhere on the node.
func createLogFile(dir, rel string) (*os.File, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil { //nolint:gosec // kubelet's pod log directory, normally made already by kubelet with this mode
		return nil, fmt.Errorf("create log directory: %w", err)
	}
	if err := beneath.MkdirAll(dir, filepath.Dir(rel), 0o755); err != nil {
		return nil, fmt.Errorf("create log directory: %w", err)
	}
	f, err := beneath.OpenFile(dir, rel, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return nil, fmt.Errorf("open log file: %w", err)
	}
	return f, nil
}

// run writes the queued lines, a batch at a time, until the queue is
// closed and empty.
func (l *logFile) run() {
	defer close(l.done)
	var batch [][]byte
	for {
		l.queueMu.Lock()
		if batch != nil && cap(batch) <= maxSpare {
			clear(batch)
			l.spare = batch[:0]
		}
		for len(l.queue) == 0 && !l.closed {
			l.queued.Wait()
		}
		batch, l.queue, l.spare = l.queue, l.spare, nil
		l.queueMu.Unlock()
		if len(batch) == 0 { // closed, and everything written
			return
		}
		for _, line := range batch {
			l.write(line)
		}
	}
}

func (l *logFile) write(line []byte) {
	l.fileMu.Lock()
	var err error
	if l.f == nil {
		err = os.ErrClosed
	} else {
		_, err = l.f.Write(line)
	}
	l.fileMu.Unlock()
	l.pending.Add(-int64(len(line)))
	if err != nil {
		l.drop()
	}
}

// enqueue hands one encoded line to the writer, or drops it when the
// writer is too far behind.
func (l *logFile) enqueue(line []byte) {
	l.queueMu.Lock()
	defer l.queueMu.Unlock()
	if l.closed {
		return
	}
	if l.pending.Load()+int64(len(line)) > maxPending {
		l.drop()
		return
	}
	l.queue = append(l.queue, line)
	l.pending.Add(int64(len(line)))
	l.queued.Signal()
}

// drop counts a lost line; the first of a run is logged.
func (l *logFile) drop() {
	if l.dropped.Add(1) == 1 && l.log != nil {
		l.log.Warn("container log lines dropped: the log file is not keeping up", "path", l.path)
	}
}

// Dropped is how many lines were lost so far.
func (l *logFile) Dropped() uint64 { return l.dropped.Load() }

// Reopen closes the file and opens path anew: kubelet renamed the old file
// to rotate it.
func (l *logFile) Reopen() error {
	f, err := createLogFile(l.dir, l.rel)
	l.fileMu.Lock()
	defer l.fileMu.Unlock()
	if l.f != nil {
		l.f.Close()
	}
	l.f = f // nil on error: lines are dropped until a Reopen succeeds
	return err
}

// Close writes what is queued and closes the file.
func (l *logFile) Close() {
	l.queueMu.Lock()
	l.closed = true
	l.queued.Signal()
	l.queueMu.Unlock()
	<-l.done
	l.fileMu.Lock()
	if l.f != nil {
		l.f.Close()
		l.f = nil
	}
	l.fileMu.Unlock()
	if n := l.dropped.Load(); n > 0 && l.log != nil {
		l.log.Warn("container log lines were dropped", "path", l.path, "lines", n)
	}
}

// stream returns the writer for one of the container's streams.
func (l *logFile) stream(name string) *lineWriter {
	return &lineWriter{stream: name, emit: l.enqueue, now: l.now}
}

// lineWriter cuts a stream into CRI log lines. Writes never block on the
// file: they only encode and enqueue.
type lineWriter struct {
	stream string
	emit   func([]byte)
	now    func() time.Time

	mu  sync.Mutex
	buf []byte // the start of a line whose end has not arrived
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			w.buf = append(w.buf, p...)
			p = nil
		} else {
			w.buf = append(w.buf, p[:i]...)
			p = p[i+1:]
		}
		for len(w.buf) >= maxLineSize && (i < 0 || len(w.buf) > maxLineSize) {
			w.line(tagPartial, w.buf[:maxLineSize])
			w.buf = append(w.buf[:0], w.buf[maxLineSize:]...)
		}
		if i >= 0 {
			w.line(tagFull, w.buf)
			w.buf = w.buf[:0]
		}
	}
	return n, nil
}

// Flush ends a last line that had no newline: the stream is closed. It is
// written as a partial line, as containerd's CRI does, so that a reader
// (kubelet's log parser, which strips the newline of P lines only) gets
// the bytes the container wrote and no newline it did not: a termination
// message taken from `echo -n DONE` is "DONE", not "DONE\n".
func (w *lineWriter) Flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.buf) > 0 {
		w.line(tagPartial, w.buf)
		w.buf = w.buf[:0]
	}
}

func (w *lineWriter) line(tag string, content []byte) {
	ts := w.now().Format(time.RFC3339Nano)
	out := make([]byte, 0, len(ts)+len(w.stream)+len(tag)+len(content)+4)
	out = append(out, ts...)
	out = append(out, ' ')
	out = append(out, w.stream...)
	out = append(out, ' ')
	out = append(out, tag...)
	out = append(out, ' ')
	out = append(out, content...)
	out = append(out, '\n')
	w.emit(out)
}

// logDir and logRel place the CRI log file: the sandbox's log directory
// and log_path below it.
func (md *Metadata) logDir() string {
	if md.LogDir == "" {
		return filepath.Dir(md.LogPath)
	}
	return md.LogDir
}

func (md *Metadata) logRel() string {
	rel, err := beneath.Split(md.logDir(), md.LogPath)
	if err != nil {
		// Never for a path Create made; beneath refuses it.
		return md.LogPath
	}
	return rel
}
