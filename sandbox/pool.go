package sandbox

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	introspectionapi "github.com/containerd/containerd/api/services/introspection/v1"
	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"google.golang.org/protobuf/proto"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/berth-cri/berth/internal/cgroup"
	"github.com/berth-cri/berth/internal/lifecycle"
)

// A sandbox pool keeps pod sandboxes started ahead of the pods that will
// take them: a pinned network namespace with its loopback up, the pod's
// /dev/shm, a containerd sandbox record and lease, and a running pause
// task (its shim, runc create and start: most of a RunPodSandbox). A pod
// whose pause would be the same takes one, and its RunPodSandbox is left
// with CNI ADD and what the pause could not have been given before the pod
// was known (adopt_linux.go): its hostname and its cgroup. The pool is
// filled again after each RunPodSandbox that could have used it, in the
// background, once that pod has started its first container, for the shape
// of pod last asked for.
//
// Which pods are alike (poolKey): the pause's spec depends, beyond the
// sandbox's ID, name, hostname and cgroup parent, only on the runtime
// handler and the pod's Linux security context. Pods on the host's network
// or in a user namespace of their own, or with sysctls (set by runc in
// the pause's namespaces), always start their own pause.

// KindPooled labels a pause container started for the pool, taken by no
// pod yet; a pod that takes it relabels it KindSandbox.
const KindPooled = "sandbox-pool"

// poolCgroupParent holds the pooled pauses' cgroups until pods take them;
// in the cpu hierarchy it is idle (adopt_linux.go).
const poolCgroupParent = "/berth-pool"

// poolShimCgroup holds, in the cpu hierarchy only, the shims of pooled
// pauses until pods take them.
const poolShimCgroup = poolCgroupParent + "/shims"

// pool is the set of pooled sandboxes.
type pool struct {
	size int
	// hier is where pooled pauses are moved from; nil disables the pool.
	hier []cgroupHierarchy
	// cpu is hier's cpu hierarchy, where the pool runs idle; nil when
	// there is none.
	cpu *cgroupHierarchy
	// noIdle says once that pooled sandboxes are made at normal priority.
	noIdle sync.Once

	mu    sync.Mutex
	ready []*pooled
	// taken are out of ready, held by a Run until it claims them.
	taken map[*Sandbox]*pooled
	// filling are the fills under way, each closing its channel when done.
	filling map[chan struct{}]*fillState
	// want is the shape the pool is filled for: the last poolable pod's.
	want     string
	template *runtimeapi.PodSandboxConfig
	handler  string
	closed   bool
	// waiting counts the Runs waiting for a fill: while one does, the pool
	// is not idle.
	waiting    int
	fills      sync.WaitGroup
	discarding sync.WaitGroup
}

// fillState is a pooled sandbox being made: for which shape, and whether
// a Run already waits for it (one does; the others start their own).
type fillState struct {
	key      string
	promised bool
}

// pooled is one sandbox of the pool.
type pooled struct {
	sb  *Sandbox
	key string
	// shimHome is the cpu cgroup its shim goes to when a pod takes it, ""
	// when the shim was not started in the pool's.
	shimHome string
	// died is set, under pool.mu, when its pause exited after a Run took
	// it and before the Run claimed it.
	died bool
}

// poolKey says which pods can share a pooled pause, and whether cfg's can.
func poolKey(cfg *runtimeapi.PodSandboxConfig, handler string) (string, bool) {
	lnx := cfg.GetLinux()
	sc := lnx.GetSecurityContext()
	ns := sc.GetNamespaceOptions()
	if ns.GetNetwork() == runtimeapi.NamespaceMode_NODE || len(lnx.GetSysctls()) > 0 {
		return "", false
	}
	if ids, err := UserNamespace(ns.GetUsernsOptions()); err != nil || ids.Enabled() {
		return "", false
	}
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(sc)
	if err != nil {
		return "", false
	}
	return handler + "\x00" + string(b), true
}

// poolTemplate is the config a pooled sandbox is made from: cfg's security
// context, nothing of the pod's own.
func poolTemplate(cfg *runtimeapi.PodSandboxConfig, id string) *runtimeapi.PodSandboxConfig {
	return &runtimeapi.PodSandboxConfig{
		Metadata: &runtimeapi.PodSandboxMetadata{Name: "pooled", Namespace: "berth-pool", Uid: id},
		Hostname: "pooled",
		Linux: &runtimeapi.LinuxPodSandboxConfig{
			CgroupParent:    poolCgroupParent,
			SecurityContext: proto.Clone(cfg.GetLinux().GetSecurityContext()).(*runtimeapi.LinuxSandboxSecurityContext),
		},
	}
}

// readyCount is how many sandboxes wait in the pool.
func (p *pool) readyCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.ready)
}

// enabled says whether a pool is kept.
func (p *pool) enabled() bool { return p.size > 0 && p.hier != nil }

// take returns a ready sandbox of shape key, now out of the pool, or nil.
// When none is ready but one is being made that no other Run waits for, it
// waits for that one: started earlier, it is ready sooner than a pause
// started now would be.
func (p *pool) take(ctx context.Context, key string) *pooled {
	if !p.enabled() {
		return nil
	}
	for {
		p.mu.Lock()
		for i, e := range p.ready {
			if e.key == key {
				p.ready = append(p.ready[:i], p.ready[i+1:]...)
				if p.taken == nil {
					p.taken = map[*Sandbox]*pooled{}
				}
				p.taken[e.sb] = e
				p.mu.Unlock()
				return e
			}
		}
		var wait chan struct{}
		for done, f := range p.filling {
			if f.key == key && !f.promised {
				f.promised = true
				wait = done
				break
			}
		}
		if wait == nil {
			p.mu.Unlock()
			return nil
		}
		p.setWaiting(+1)
		p.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
		}
		p.mu.Lock()
		p.setWaiting(-1)
		p.mu.Unlock()
		if ctx.Err() != nil {
			return nil
		}
	}
}

// setWaiting counts a Run that starts (+1) or ends (-1) waiting for a
// fill, and sets the pool's CPU priority: idle unless a Run waits for it or
// it is closing. Called with mu held.
func (p *pool) setWaiting(d int) {
	p.waiting += d
	if p.cpu == nil || (d > 0 && p.waiting > 1) || (d < 0 && p.waiting > 0) {
		return
	}
	// Missing until the first fill, and after a sweep: then no fill runs.
	_ = setCPUIdle(filepath.Join(p.cpu.mountpoint, poolCgroupParent), p.idle())
}

// idle says whether the pool's sandboxes are made on idle CPU time.
func (p *pool) idle() bool { return p.waiting == 0 && !p.closed }

// errPooledGone says that a taken pooled sandbox's pause exited before the
// pod could claim it.
var errPooledGone = errors.New("the pooled pause exited before its pod took it")

// claim makes e's sandbox the pod's: from here its pause's exit is the
// pod's, reported as any pod's. It fails if the pause exited while pooled.
func (p *pool) claim(e *pooled, md Metadata) (*Sandbox, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.taken, e.sb)
	if e.died {
		return nil, fmt.Errorf("sandbox %s: %w", e.sb.ID, errPooledGone)
	}
	sb := e.sb
	sb.Name, sb.Config, sb.CreatedAt, sb.MovedCgroup, sb.CgroupsPath = md.Name, md.Config, md.CreatedAt, md.MovedCgroup, md.CgroupsPath
	sb.pooled.Store(false)
	return sb, nil
}

// exited is called by the watcher of sb's pause when it exits, and says
// whether sb is pooled, in which case it leaves the pool.
func (p *pool) exited(sb *Sandbox) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !sb.pooled.Load() {
		return false
	}
	for i, e := range p.ready {
		if e.sb == sb {
			p.ready = append(p.ready[:i], p.ready[i+1:]...)
			return true
		}
	}
	// Taken, not yet claimed: the claim fails and its Run cleans up.
	if e, ok := p.taken[sb]; ok {
		e.died = true
	}
	return false
}

// refill asks for the pool to hold sandboxes of key's shape, made from
// cfg, and starts making the missing ones. Sandboxes of another shape are
// discarded.
func (m *Manager) refill(ctx context.Context, key string, cfg *runtimeapi.PodSandboxConfig, handler string) {
	p := &m.pool
	if !p.enabled() {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	if p.want != key {
		p.want, p.template, p.handler = key, cfg, handler
		kept := p.ready[:0]
		for _, e := range p.ready {
			if e.key == key {
				kept = append(kept, e)
				continue
			}
			m.discard(ctx, e.sb)
		}
		p.ready = kept
	}
	if p.filling == nil {
		p.filling = map[chan struct{}]*fillState{}
	}
	for n := len(p.ready) + len(p.filling); n < p.size; n++ {
		done := make(chan struct{})
		p.filling[done] = &fillState{key: key}
		p.fills.Add(1)
		go m.fill(context.WithoutCancel(ctx), key, p.template, handler, done)
	}
}

// refillDelay bounds how long a refill waits for the pod that came before
// it to start a container.
const refillDelay = 2 * time.Second

// refillAfterStart refills the pool once the pod id has started its first
// container, or stopped, or refillDelay passed: a pod's
// CreateContainer and StartContainer follow its RunPodSandbox at once, and
// a pause being made beside them would slow the pod the pool just served.
// started is a subscription to lifecycle events, nil when there are none.
func (m *Manager) refillAfterStart(ctx context.Context, id string, started *lifecycle.Subscription, key string, cfg *runtimeapi.PodSandboxConfig, handler string) {
	if started != nil {
		timeout := time.NewTimer(refillDelay)
	wait:
		for {
			select {
			case e, ok := <-started.C():
				if !ok {
					break wait
				}
				sb, _ := e.Sandbox.(*Sandbox)
				if sb == nil || sb.ID != id {
					continue
				}
				if (e.Container != nil && e.Kind == lifecycle.Started) || (e.Container == nil && e.Kind != lifecycle.Created && e.Kind != lifecycle.Started) {
					break wait
				}
			case <-timeout.C:
				break wait
			}
		}
		timeout.Stop()
		started.Close()
	}
	m.refill(ctx, key, cfg, handler)
}

// fill makes one pooled sandbox of shape key.
func (m *Manager) fill(ctx context.Context, key string, cfg *runtimeapi.PodSandboxConfig, handler string, done chan struct{}) {
	p := &m.pool
	defer p.fills.Done()
	id := newID()
	home := m.shimHome(ctx)
	sb, err := m.makePooled(ctx, id, poolTemplate(cfg, id), handler, home != "")
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.filling, done)
	defer close(done)
	if err != nil {
		m.cfg.Logger.Warn("starting a pooled sandbox failed; pods start their own until the next one", "error", err)
		return
	}
	if p.closed || p.want != key || len(p.ready) >= p.size {
		m.discard(ctx, sb)
		return
	}
	p.ready = append(p.ready, &pooled{sb: sb, key: key, shimHome: home})
}

// shimHome readies the pool's cgroups for a fill, and returns the cpu
// cgroup of containerd, where a pod's shim belongs: "" when the fill's
// shim cannot be started in the pool's cgroup, and is left in containerd's.
func (m *Manager) shimHome(ctx context.Context) string {
	p := &m.pool
	if p.cpu == nil {
		return ""
	}
	p.mu.Lock()
	err := preparePoolCgroups(*p.cpu, p.idle())
	p.mu.Unlock()
	var home string
	if err == nil {
		var srv *introspectionapi.ServerResponse
		if srv, err = m.cfg.Client.IntrospectionService().Server(ctx); err == nil {
			home, err = containerdCPUCgroup(srv.GetPid(), srv.GetPidns())
		}
	}
	if err != nil {
		p.noIdle.Do(func() {
			m.cfg.Logger.Warn("pooled sandboxes are made at normal CPU priority", "error", err)
		})
		return ""
	}
	return home
}

// makePooled runs a sandbox for the pool, its shim in the pool's cgroup
// when idleShim says so.
func (m *Manager) makePooled(ctx context.Context, id string, cfg *runtimeapi.PodSandboxConfig, handler string, idleShim bool) (*Sandbox, error) {
	opts, err := m.runtimeOptions(handler)
	if err != nil {
		return nil, err
	}
	if idleShim {
		opts.ShimCgroup = poolShimCgroup
	}
	ctx, cancel := context.WithTimeout(ctx, runTimeout)
	defer cancel()
	return m.run(ctx, id, "pool_"+id, cfg, handler, containerd.WithRuntime(runcRuntime, opts), true)
}

// discard tears a pooled sandbox down in the background.
func (m *Manager) discard(ctx context.Context, sb *Sandbox) {
	m.pool.discarding.Add(1)
	go func() {
		defer m.pool.discarding.Done()
		m.destroyPooled(ctx, sb)
	}()
}

// destroyPooled releases everything a pooled sandbox holds.
func (m *Manager) destroyPooled(ctx context.Context, sb *Sandbox) {
	cctx, cancel := cleanupContext(ctx)
	defer cancel()
	if err := errors.Join(m.releaseRuntime(cctx, sb), m.removeRecords(cctx, sb)); err != nil {
		m.cfg.Logger.Warn("removing a pooled sandbox failed; berthd's next start removes it", "sandbox", sb.ID, "error", err)
	}
}

// retryPooledCleanup removes what a failed pooled start left, trying again
// for a minute: no pod will ask for it, and a later start of berthd is the
// only other chance.
func (m *Manager) retryPooledCleanup(ctx context.Context, sb *Sandbox) {
	for wait := 500 * time.Millisecond; ; wait *= 2 {
		time.Sleep(wait)
		cctx, cancel := cleanupContext(ctx)
		err := errors.Join(m.releaseRuntime(cctx, sb), m.removeRecords(cctx, sb))
		cancel()
		if err == nil {
			if killLeftShim(sb.ID) {
				m.cfg.Logger.Warn("ended the shim a failed sandbox start left without a task", "sandbox", sb.ID)
			}
			return
		}
		if wait > 30*time.Second {
			m.cfg.Logger.Error("removing a pooled sandbox whose start failed failed; berthd's next start removes it", "sandbox", sb.ID, "error", err)
			return
		}
	}
}

// ClosePool stops filling the pool and removes the sandboxes it holds: at
// shutdown, before containerd stops. A restart fills it anew.
func (m *Manager) ClosePool(ctx context.Context) {
	p := &m.pool
	p.mu.Lock()
	p.closed = true
	// What is left to make or remove is done at normal priority: shutdown
	// waits for it.
	p.setWaiting(0)
	p.mu.Unlock()
	p.mu.Lock()
	for _, e := range p.ready {
		m.discard(ctx, e.sb)
	}
	p.ready = nil
	p.mu.Unlock()
	// Each fill under way sees closed and discards what it made.
	done := make(chan struct{})
	go func() { p.fills.Wait(); p.discarding.Wait(); close(done) }()
	select {
	case <-done:
		// The pool's parent cgroup goes with it, unless another berthd's
		// pool is in it.
		removeEmptyCgroup(p.hier, poolCgroupParent)
	case <-ctx.Done():
		m.cfg.Logger.Warn("pooled sandboxes still being removed at shutdown; berthd's next start removes them", "error", ctx.Err())
	}
}

// removePooledLeftovers removes, at start, the pooled sandboxes a berthd
// that did not stop cleanly left: no pod took them.
func (m *Manager) removePooledLeftovers(ctx context.Context) []error {
	defer removeEmptyCgroup(m.pool.hier, poolCgroupParent)
	if cpu := m.pool.cpu; cpu != nil {
		// Left idle, if it is there at all: berthd's start waits for the
		// shims in it to remove their tasks.
		_ = setCPUIdle(filepath.Join(cpu.mountpoint, poolCgroupParent), false)
	}
	containers, err := m.cfg.Client.Containers(ctx, fmt.Sprintf("labels.%q==%s", LabelKind, KindPooled))
	if err != nil {
		return []error{fmt.Errorf("list pooled sandboxes: %w", err)}
	}
	var errs []error
	for _, c := range containers {
		sb, err := pooledFromContainer(ctx, c)
		if err != nil {
			errs = append(errs, fmt.Errorf("pooled sandbox %s: %w", c.ID(), err))
			continue
		}
		cctx, cancel := cleanupContext(ctx)
		err = errors.Join(m.releaseRuntime(cctx, sb), m.removeRecords(cctx, sb))
		cancel()
		if err != nil {
			errs = append(errs, fmt.Errorf("remove pooled sandbox %s: %w", c.ID(), err))
			continue
		}
		killLeftShim(c.ID()) // a shim whose task was never made
	}
	return errs
}

func pooledFromContainer(ctx context.Context, c containerd.Container) (*Sandbox, error) {
	_, md, err := recordedMetadata(ctx, c)
	if err != nil {
		return nil, err
	}
	sb := newSandbox(*md, Status{State: runtimeapi.PodSandboxState_SANDBOX_NOTREADY, NetworkTornDown: true})
	sb.pooled.Store(true)
	return sb, nil
}

// adopt gives a pooled pause, now the pod's, the pod's hostname and cgroup,
// and moves its shim from the pool's cgroup to shimHome, unless "".
func (m *Manager) adopt(ctx context.Context, sb *Sandbox, shimHome string) error {
	w := sb.watch.Load()
	if w == nil {
		return fmt.Errorf("the pooled pause of sandbox %s is not watched", sb.ID)
	}
	start := time.Now()
	defer m.metrics.since(stageAdopt, start)
	if err := setHostname(w.proc, sb.Hostname()); err != nil {
		return fmt.Errorf("set the pod's hostname: %w", err)
	}
	if shimHome != "" {
		if err := moveShimHome(*m.pool.cpu, w.proc, poolShimCgroup, shimHome); err != nil {
			return fmt.Errorf("move the pause's shim out of the pool's cgroup: %w", err)
		}
	}
	from, _ := cgroup.Cgroupfs.Path(poolCgroupParent, sb.ID)
	if err := moveCgroup(m.pool.hier, w.proc, from, sb.MovedCgroup); err != nil {
		return fmt.Errorf("move the pause into the pod's cgroup: %w", err)
	}
	ns, err := namespaces.NamespaceRequired(ctx)
	if err != nil {
		return err
	}
	if err := retargetRuncState(filepath.Join(m.cfg.RuncRoot, ns, sb.ID, "state.json"), from, sb.MovedCgroup); err != nil {
		return fmt.Errorf("record the pause's new cgroup in runc's state: %w", err)
	}
	// Empty now, and no longer runc's to remove.
	return removeCgroup(m.pool.hier, from)
}
