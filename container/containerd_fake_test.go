package container

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/containers"
	"github.com/containerd/containerd/v2/core/mount"
	"github.com/containerd/containerd/v2/core/snapshots"
	"github.com/containerd/containerd/v2/pkg/cio"
	"github.com/containerd/errdefs"
	"github.com/containerd/typeurl/v2"
	"golang.org/x/sys/unix"

	"github.com/berth-cri/berth/sandbox"
)

// fakeContainerd is containerd in the lifecycle's roles (Records, Tasks,
// Snapshots), in memory. It logs every call, in order, as "op id", and
// fails or holds up any of them on demand (on). Its tasks create and
// attach real IO in the test's state directory, as the shim does, so a
// container's output reaches its CRI log and leaked fifos show.
type fakeContainerd struct {
	mu      sync.Mutex
	calls   []string
	records map[string]containers.Container
	snaps   map[string]string // key -> parent
	// prepared is what Prepare returns; nil: no mount (an empty root).
	prepared []mount.Mount
	leases   map[string]bool
	tasks    map[string]*fakeTask
	hooks    map[string]func(ctx context.Context, id string) error
	// nextPid numbers the tasks' processes beyond any PID the kernel
	// gives (pid_max is at most 2^22), so Start's procsig.Identify finds
	// none and Stop's signals go through Tasks.Kill.
	nextPid uint32
	// shutdown ends the fake tasks' waiters when the test ends.
	shutdown chan struct{}
	// gen ends the waiters of a berthd that restart left behind.
	gen chan struct{}
}

func newFakeContainerd(t *testing.T) *fakeContainerd {
	f := &fakeContainerd{
		records:  map[string]containers.Container{},
		snaps:    map[string]string{},
		leases:   map[string]bool{},
		tasks:    map[string]*fakeTask{},
		hooks:    map[string]func(context.Context, string) error{},
		nextPid:  1 << 30,
		shutdown: make(chan struct{}),
		gen:      make(chan struct{}),
	}
	t.Cleanup(func() { close(f.shutdown) })
	return f
}

func (f *fakeContainerd) roles() Containerd {
	return Containerd{Records: fakeRecords{f}, Tasks: fakeTasks{f}, Snapshots: fakeSnapshots{f}}
}

// restart drops the waits of the berthd that was running: its monitors
// never hear of an exit, as if it had died.
func (f *fakeContainerd) restart() {
	f.mu.Lock()
	defer f.mu.Unlock()
	close(f.gen)
	f.gen = make(chan struct{})
}

// on makes op ("records.create", "snapshots.prepare", "task.start"...)
// run fn first; its error fails the call. nil removes the hook.
func (f *fakeContainerd) on(op string, fn func(ctx context.Context, id string) error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if fn == nil {
		delete(f.hooks, op)
		return
	}
	f.hooks[op] = fn
}

// clearHooks ends every failure and hold-up on demand, and Prepare's
// unmountable mounts.
func (f *fakeContainerd) clearHooks() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.hooks = map[string]func(context.Context, string) error{}
	f.prepared = nil
}

// hasLease says whether sandbox id has its lease.
func (f *fakeContainerd) hasLease(id string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.leases[id]
}

// failOn makes op fail with err every time.
func (f *fakeContainerd) failOn(op string, err error) {
	f.on(op, func(context.Context, string) error { return err })
}

// call logs op on id and runs its hook, outside the lock (a hook may
// block until the context ends).
func (f *fakeContainerd) call(ctx context.Context, op, id string) error {
	f.mu.Lock()
	f.calls = append(f.calls, op+" "+id)
	hook := f.hooks[op]
	f.mu.Unlock()
	if hook != nil {
		return hook(ctx, id)
	}
	return nil
}

// callLog returns the calls so far whose op starts with prefix.
func (f *fakeContainerd) callLog(prefix string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, c := range f.calls {
		if strings.HasPrefix(c, prefix) {
			out = append(out, c)
		}
	}
	return out
}

// leftOf lists what containerd still holds of container id: its record,
// its snapshot (and image volume views), its task.
func (f *fakeContainerd) leftOf(id string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var left []string
	if _, ok := f.records[id]; ok {
		left = append(left, "record")
	}
	for key := range f.snaps {
		if key == id || strings.HasPrefix(key, id+"-") {
			left = append(left, "snapshot "+key)
		}
	}
	if _, ok := f.tasks[id]; ok {
		left = append(left, "task")
	}
	return left
}

// anything lists all that containerd holds.
func (f *fakeContainerd) anything() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var left []string
	for id := range f.records {
		left = append(left, "record "+id)
	}
	for key := range f.snaps {
		left = append(left, "snapshot "+key)
	}
	for id := range f.tasks {
		left = append(left, "task "+id)
	}
	slices.Sort(left)
	return left
}

func (f *fakeContainerd) record(id string) (containers.Container, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	rec, ok := f.records[id]
	return rec, ok
}

// storedStatus is the status record containerd holds for container id.
func (f *fakeContainerd) storedStatus(t *testing.T, id string) *StatusRecord {
	t.Helper()
	rec, ok := f.record(id)
	if !ok {
		t.Fatalf("no record of %s in containerd", id)
	}
	a, ok := rec.Extensions[extensionStatus]
	if !ok {
		return nil
	}
	var st StatusRecord
	if err := typeurl.UnmarshalTo(a, &st); err != nil {
		t.Fatal(err)
	}
	return &st
}

func (f *fakeContainerd) task(id string) *fakeTask {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.tasks[id]
}

// putTask gives container id a task in status st, as berthd finds it
// after a restart: no IO of its own.
func (f *fakeContainerd) putTask(id string, st containerd.ProcessStatus) *fakeTask {
	f.mu.Lock()
	defer f.mu.Unlock()
	t := f.newTaskLocked(id, nil)
	t.status = st
	if st == containerd.Stopped {
		close(t.exited)
	}
	return t
}

func (f *fakeContainerd) newTaskLocked(id string, tio cio.IO) *fakeTask {
	f.nextPid++
	t := &fakeTask{f: f, id: id, pid: f.nextPid, io: tio, status: containerd.Created, exited: make(chan struct{})}
	f.tasks[id] = t
	return t
}

type fakeRecords struct{ f *fakeContainerd }

func (r fakeRecords) Create(ctx context.Context, id string, opts ...containerd.NewContainerOpts) error {
	f := r.f
	rec := containers.Container{ID: id, Runtime: containers.RuntimeInfo{Name: "io.containerd.runc.v2"}}
	for _, o := range opts {
		if err := o(ctx, nil, &rec); err != nil {
			return err
		}
	}
	if err := f.call(ctx, "records.create", id); err != nil {
		return err
	}
	f.mu.Lock()
	if _, ok := f.records[id]; ok {
		f.mu.Unlock()
		return fmt.Errorf("container %q: %w", id, errdefs.ErrAlreadyExists)
	}
	rec.CreatedAt = time.Now()
	f.records[id] = rec
	f.mu.Unlock()
	// The hook of "records.created" fails the call after containerd did
	// the work: a deadline that passed as the answer travelled back.
	return f.call(ctx, "records.created", id)
}

func (r fakeRecords) List(ctx context.Context) ([]containers.Container, error) {
	f := r.f
	if err := f.call(ctx, "records.list", ""); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []containers.Container
	for _, rec := range f.records {
		if rec.Labels[sandbox.LabelKind] == KindContainer {
			out = append(out, rec)
		}
	}
	return out, nil
}

func (r fakeRecords) Update(ctx context.Context, upd containers.Container, fieldpaths ...string) error {
	f := r.f
	if err := f.call(ctx, "records.update", upd.ID); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	rec, ok := f.records[upd.ID]
	if !ok {
		return fmt.Errorf("container %q: %w", upd.ID, errdefs.ErrNotFound)
	}
	for _, p := range fieldpaths {
		name, ok := strings.CutPrefix(p, "extensions.")
		if !ok {
			return fmt.Errorf("the fake updates extensions only, not %q: %w", p, errdefs.ErrNotImplemented)
		}
		exts := map[string]typeurl.Any{}
		for k, v := range rec.Extensions {
			exts[k] = v
		}
		exts[name] = upd.Extensions[name]
		rec.Extensions = exts
	}
	f.records[upd.ID] = rec
	return nil
}

func (r fakeRecords) Delete(ctx context.Context, id string) error {
	f := r.f
	if err := f.call(ctx, "records.delete", id); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.tasks[id]; ok {
		// containerd refuses to delete a container that has a task.
		return fmt.Errorf("container %s has a task: %w", id, errdefs.ErrFailedPrecondition)
	}
	if _, ok := f.records[id]; !ok {
		return fmt.Errorf("container %q: %w", id, errdefs.ErrNotFound)
	}
	delete(f.records, id)
	return nil
}

type fakeTasks struct{ f *fakeContainerd }

// Create does what internal/task.Create does: the IO first, closed again
// when the task cannot be made.
// Create, as the client's Tasks: without rootfs mounts it asks the
// snapshot's first.
func (ts fakeTasks) Create(ctx context.Context, id string, rootfs []mount.Mount, ioCreate cio.Creator, restore ...containerd.NewTaskOpts) (Task, error) {
	f := ts.f
	if rootfs == nil {
		if _, err := (fakeSnapshots{f}).Mounts(ctx, id); err != nil {
			return nil, fmt.Errorf("rootfs mounts: %w", err)
		}
	}
	tio, err := ioCreate(id)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (Task, error) {
		tio.Cancel()
		_ = tio.Close()
		return nil, err
	}
	if err := f.call(ctx, "tasks.create", id); err != nil {
		return fail(err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.records[id]; !ok {
		return fail(fmt.Errorf("load container: container %q: %w", id, errdefs.ErrNotFound))
	}
	if _, ok := f.tasks[id]; ok {
		return fail(fmt.Errorf("task %s: %w", id, errdefs.ErrAlreadyExists))
	}
	t := f.newTaskLocked(id, tio)
	// The shim holds the process's end of the output fifos from the
	// task's creation.
	cfg := tio.Config()
	for _, path := range []string{cfg.Stdout, cfg.Stderr} {
		if w := openWriter(path); w != nil {
			t.writers = append(t.writers, w)
		}
	}
	return t, nil
}

// openWriter opens the writing end of the fifo at path, once the IO's
// reader opened the other; nil when there is no such fifo (a terminal has
// no stderr) or no reader came.
func openWriter(path string) *os.File {
	if _, err := os.Stat(path); path == "" || err != nil {
		return nil
	}
	opened := make(chan *os.File, 1)
	go func() {
		w, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			w = nil
		}
		opened <- w
	}()
	select {
	case w := <-opened:
		return w
	case <-time.After(5 * time.Second):
		return nil
	}
}

func (ts fakeTasks) Load(ctx context.Context, id string, ioAttach cio.Attach) (Task, error) {
	f := ts.f
	if err := f.call(ctx, "tasks.load", id); err != nil {
		return nil, err
	}
	t := f.task(id)
	if t == nil {
		return nil, fmt.Errorf("no running task found: task %s: %w", id, errdefs.ErrNotFound)
	}
	if ioAttach == nil {
		return &fakeTask{f: f, id: id, pid: t.pid, shared: t}, nil
	}
	// The tasks the fake finds after a restart have no fifos: attach to
	// none.
	tio, err := ioAttach(&cio.FIFOSet{})
	if err != nil {
		return nil, err
	}
	return &fakeTask{f: f, id: id, pid: t.pid, io: tio, shared: t}, nil
}

// Kill acts as the container's process would: SIGKILL ends it, and any
// other signal unless it ignores that one. Nothing to signal is NotFound.
func (ts fakeTasks) Kill(ctx context.Context, id string, sig syscall.Signal, all bool) error {
	f := ts.f
	if err := f.call(ctx, fmt.Sprintf("tasks.kill %s all=%v", sigName(sig), all), id); err != nil {
		return err
	}
	t := f.task(id)
	if t == nil {
		return fmt.Errorf("task %s: %w", id, errdefs.ErrNotFound)
	}
	t.mu.Lock()
	ignored := slices.Contains(t.ignores, sig) && sig != syscall.SIGKILL
	running := t.status == containerd.Running
	t.mu.Unlock()
	if !running {
		return fmt.Errorf("process already finished: %w", errdefs.ErrNotFound)
	}
	if !ignored {
		t.exit(128+uint32(sig), "")
	}
	return nil
}

func sigName(sig syscall.Signal) string { return unix.SignalName(sig) }

func (ts fakeTasks) Delete(ctx context.Context, id string) error {
	f := ts.f
	if err := f.call(ctx, "tasks.delete", id); err != nil {
		return err
	}
	if t := f.task(id); t != nil {
		t.exit(128+9, "") // what still runs is killed
		f.mu.Lock()
		delete(f.tasks, id)
		f.mu.Unlock()
	}
	return nil
}

// fakeTask is a task and its process. A task Load returns shares the
// process of the one in the fake's table (shared).
type fakeTask struct {
	f      *fakeContainerd
	id     string
	pid    uint32
	io     cio.IO
	shared *fakeTask

	mu       sync.Mutex
	status   containerd.ProcessStatus
	code     uint32
	exitedAt time.Time
	exited   chan struct{}
	ignores  []syscall.Signal
	// writers are the shim's ends of the output fifos, stdout first.
	writers []*os.File
}

func (t *fakeTask) proc() *fakeTask {
	if t.shared != nil {
		return t.shared
	}
	return t
}

func (t *fakeTask) ID() string  { return t.id }
func (t *fakeTask) Pid() uint32 { return t.pid }
func (t *fakeTask) IO() cio.IO  { return t.io }
func (t *fakeTask) Start(ctx context.Context) error {
	if err := t.f.call(ctx, "task.start", t.id); err != nil {
		return err
	}
	p := t.proc()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.status != containerd.Created {
		return fmt.Errorf("task %s is %s: %w", t.id, p.status, errdefs.ErrFailedPrecondition)
	}
	p.status = containerd.Running
	return nil
}

func (t *fakeTask) Wait(ctx context.Context) (<-chan containerd.ExitStatus, error) {
	if err := t.f.call(ctx, "task.wait", t.id); err != nil {
		return nil, err
	}
	p := t.proc()
	ch := make(chan containerd.ExitStatus, 1)
	t.f.mu.Lock()
	gen := t.f.gen
	t.f.mu.Unlock()
	go func() {
		select {
		case <-p.exited:
			p.mu.Lock()
			ch <- *containerd.NewExitStatus(p.code, p.exitedAt, nil)
			p.mu.Unlock()
		case <-ctx.Done():
			ch <- *containerd.NewExitStatus(containerd.UnknownExitStatus, time.Time{}, ctx.Err())
		case <-t.f.shutdown:
		case <-gen:
		}
	}()
	return ch, nil
}

// Delete is the client's Task.Delete: IO cancelled and waited for, the
// task deleted (its process killed with WithProcessKill), then the IO
// closed, which removes its fifos.
func (t *fakeTask) Delete(ctx context.Context, opts ...containerd.ProcessDeleteOpts) (*containerd.ExitStatus, error) {
	if t.io != nil {
		t.io.Cancel()
		t.io.Wait()
	}
	if err := (fakeTasks{t.f}).Delete(ctx, t.id); err != nil {
		return nil, err
	}
	if t.io != nil {
		_ = t.io.Close()
	}
	p := t.proc()
	p.mu.Lock()
	defer p.mu.Unlock()
	return containerd.NewExitStatus(p.code, p.exitedAt, nil), nil
}

func (t *fakeTask) Status(ctx context.Context) (containerd.Status, error) {
	if err := t.f.call(ctx, "task.status", t.id); err != nil {
		return containerd.Status{}, err
	}
	p := t.proc()
	p.mu.Lock()
	defer p.mu.Unlock()
	return containerd.Status{Status: p.status, ExitStatus: p.code, ExitTime: p.exitedAt}, nil
}

// exit ends the task's process with code, after it wrote out to its
// stdout; the shim closes the process's end of the fifos, so the output
// copied to the CRI log ends. A process that has exited already stays as
// it was.
func (t *fakeTask) exit(code uint32, out string) {
	p := t.proc()
	p.mu.Lock()
	if p.status == containerd.Stopped {
		p.mu.Unlock()
		return
	}
	p.status, p.code, p.exitedAt = containerd.Stopped, code, time.Now()
	writers := p.writers
	p.writers = nil
	p.mu.Unlock()
	// Closing the shim's ends gives the IO's readers EOF after the output.
	for i, w := range writers {
		if i == 0 && out != "" {
			_, _ = w.Write([]byte(out))
		}
		_ = w.Close()
	}
	close(p.exited)
}

// ignore makes the process ignore sig (a stop signal it does not handle).
func (t *fakeTask) ignore(sig syscall.Signal) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.ignores = append(t.ignores, sig)
}

type fakeSnapshots struct{ f *fakeContainerd }

func (s fakeSnapshots) Prepare(ctx context.Context, key, parent string, opts ...snapshots.Opt) ([]mount.Mount, error) {
	f := s.f
	if err := f.call(ctx, "snapshots.prepare", key); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.snaps[key]; ok {
		return nil, fmt.Errorf("snapshot %q: %w", key, errdefs.ErrAlreadyExists)
	}
	f.snaps[key] = parent
	if f.prepared != nil {
		return f.prepared, nil
	}
	return []mount.Mount{}, nil
}

func (s fakeSnapshots) View(ctx context.Context, key, parent string, opts ...snapshots.Opt) ([]mount.Mount, error) {
	return s.Prepare(ctx, key, parent, opts...)
}

// Mounts of an existing snapshot are none: the spec's user options then
// read an empty root, and need no mount.
func (s fakeSnapshots) Mounts(ctx context.Context, key string) ([]mount.Mount, error) {
	f := s.f
	if err := f.call(ctx, "snapshots.mounts", key); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.snaps[key]; !ok {
		return nil, fmt.Errorf("snapshot %q: %w", key, errdefs.ErrNotFound)
	}
	return []mount.Mount{}, nil
}

func (s fakeSnapshots) Remove(ctx context.Context, key string) error {
	f := s.f
	if err := f.call(ctx, "snapshots.remove", key); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.snaps[key]; !ok {
		return fmt.Errorf("snapshot %q: %w", key, errdefs.ErrNotFound)
	}
	delete(f.snaps, key)
	return nil
}

func (s fakeSnapshots) EnsureLease(ctx context.Context, sandboxID string) error {
	f := s.f
	if err := f.call(ctx, "snapshots.lease", sandboxID); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.leases[sandboxID] = true
	return nil
}

func (fakeSnapshots) Stat(context.Context, string) (snapshots.Info, error) {
	return snapshots.Info{}, errdefs.ErrNotImplemented
}

func (fakeSnapshots) Update(context.Context, snapshots.Info, ...string) (snapshots.Info, error) {
	return snapshots.Info{}, errdefs.ErrNotImplemented
}

func (fakeSnapshots) Usage(context.Context, string) (snapshots.Usage, error) {
	return snapshots.Usage{}, errdefs.ErrNotImplemented
}

func (fakeSnapshots) Commit(context.Context, string, string, ...snapshots.Opt) error {
	return errdefs.ErrNotImplemented
}

func (fakeSnapshots) Walk(context.Context, snapshots.WalkFunc, ...string) error {
	return errdefs.ErrNotImplemented
}

func (fakeSnapshots) Close() error { return nil }

// errBoom is a dependency's failure that is no error class.
var errBoom = errors.New("boom")
