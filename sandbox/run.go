package sandbox

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/containers"
	"github.com/containerd/containerd/v2/core/mount"
	"github.com/containerd/containerd/v2/pkg/cio"
	"github.com/containerd/containerd/v2/pkg/oci"
	"github.com/containerd/errdefs"
	"github.com/containerd/typeurl/v2"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/berth-cri/berth/cni"
	"github.com/berth-cri/berth/internal/cgroup"
	"github.com/berth-cri/berth/internal/lifecycle"
	"github.com/berth-cri/berth/internal/procsig"
	"github.com/berth-cri/berth/internal/taskcreate"
	"github.com/berth-cri/berth/internal/taskdel"
	"github.com/berth-cri/berth/portmap"
	"github.com/berth-cri/berth/sandbox/netns"
)

// Labels and extensions that make a containerd container a Berth sandbox.
const (
	LabelKind          = "io.berth.kind"
	KindSandbox        = "sandbox"
	extensionMetadata  = "io.berth.sandbox.metadata"
	extensionNetwork   = "io.berth.sandbox.network"
	labelSandboxName   = "io.berth.sandbox.name"
	typeURLMetadata    = "github.com/berth-cri/berth/sandbox.Metadata"
	typeURLNetworkInfo = "github.com/berth-cri/berth/sandbox.NetworkInfo"
)

// NetworkInfo is recorded on the pause container once CNI ADD succeeded.
type NetworkInfo struct {
	IPs []netip.Addr `json:"ips"`
}

func init() {
	typeurl.Register(&Metadata{}, typeURLMetadata)
	typeurl.Register(&NetworkInfo{}, typeURLNetworkInfo)
}

// Run creates and starts a pod sandbox and returns its ID. A Run with the
// name of a sandbox that exists, or is being created, returns that sandbox.
//
// The work is detached from ctx's deadline: when kubelet gives up waiting
// it retries with the same metadata, and the retry collects this sandbox
// instead of racing a second one (and leaking the first).
func (m *Manager) Run(ctx context.Context, cfg *runtimeapi.PodSandboxConfig, handler string) (string, error) {
	if err := validateConfig(cfg); err != nil {
		return "", err
	}
	if err := m.cfg.CgroupDriver.CheckParent(cfg.GetLinux().GetCgroupParent()); err != nil {
		return "", err
	}
	runtimeOpt, err := m.runtimeFor(handler)
	if err != nil {
		return "", err
	}
	name := makeName(cfg.GetMetadata())
	id := newID()
	res, existing, err := m.names.reserve(ctx, name, id)
	if err != nil {
		return "", fmt.Errorf("waiting for the sandbox %q being created: %w", name, err)
	}
	if res == nil {
		return existing, nil
	}
	key, poolable := poolKey(cfg, handler)
	var taken *pooled
	if poolable {
		if taken = m.pool.take(ctx, key); taken != nil {
			id = taken.sb.ID
			m.names.rekey(res, id)
		}
	}
	type outcome struct {
		id  string
		err error
	}
	done := make(chan outcome, 1)
	go func(id string) {
		workCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), runTimeout)
		defer cancel()
		var err error
		if taken != nil {
			err = m.runPooled(workCtx, taken, name, cfg, handler)
			if errors.Is(err, errPooledGone) {
				// Its pause died in the pool: the pod starts its own.
				id = newID()
				m.names.rekey(res, id)
				taken = nil
			}
		}
		if taken == nil {
			_, err = m.run(workCtx, id, name, cfg, handler, runtimeOpt, false)
		}
		m.names.finish(name, res, err)
		var started *lifecycle.Subscription
		if poolable && err == nil && m.cfg.Events != nil {
			// Subscribed before the caller can start a container.
			started = m.cfg.Events.Subscribe(16)
		}
		done <- outcome{id, err}
		if poolable {
			m.refillAfterStart(context.WithoutCancel(workCtx), id, started, key, cfg, handler)
		}
	}(id)
	select {
	case o := <-done:
		if o.err != nil {
			return "", o.err
		}
		return o.id, nil
	case <-ctx.Done():
		return "", fmt.Errorf("sandbox %q is still being created; retry to get it: %w", name, ctx.Err())
	}
}

// run creates and starts a sandbox: for a pod, or, pooled, for the pool,
// with no network yet, listed nowhere and announced to no one.
func (m *Manager) run(ctx context.Context, id, name string, cfg *runtimeapi.PodSandboxConfig, handler string, runtimeOpt containerd.NewContainerOpts, pooled bool) (_ *Sandbox, retErr error) {
	start := time.Now()
	pause, err := m.resolvePause(ctx)
	if err != nil {
		return nil, err
	}
	md := Metadata{ID: id, Name: name, Config: cfg, RuntimeHandler: handler, CreatedAt: time.Now(), Dir: m.sandboxDir(id)}
	if md.CgroupsPath, err = m.cfg.CgroupDriver.Path(cfg.GetLinux().GetCgroupParent(), id); err != nil {
		return nil, err
	}
	hostNetwork := md.HostNetwork()
	if !hostNetwork {
		md.NetNSPath = netns.Path(m.netnsDir(), id)
	}
	if cfg.GetLinux().GetSecurityContext().GetNamespaceOptions().GetIpc() != runtimeapi.NamespaceMode_NODE {
		md.ShmPath = m.shmDir(id)
	}
	if md.IDMappings().Enabled() {
		md.UserNSPath = m.usernsPin(id)
	}
	sb := newSandbox(md, Status{State: runtimeapi.PodSandboxState_SANDBOX_NOTREADY, NetworkTornDown: pooled})
	sb.pooled.Store(pooled)

	// Every resource below is released by the same idempotent teardown as
	// Stop and Remove use, so it is registered before the first one is
	// acquired, and covers a CNI ADD that failed halfway. If the teardown
	// itself fails, the sandbox stays listed NOTREADY for a later
	// Stop/Remove to finish, rather than leaking what it holds.
	defer func() {
		if retErr == nil {
			return
		}
		cctx, cancel := cleanupContext(ctx)
		defer cancel()
		cleanupErr := errors.Join(m.releaseRuntime(cctx, sb), m.removeRecords(cctx, sb))
		if cleanupErr == nil && killLeftShim(id) {
			m.cfg.Logger.Warn("ended the shim a failed sandbox start left without a task", "sandbox", id)
		}
		if cleanupErr != nil && pooled {
			// Most often containerd died under the start: the supervisor
			// brings it back within a second.
			m.cfg.Logger.Warn("cleanup after a failed start of a pooled sandbox failed; retrying", "sandbox", id, "error", cleanupErr)
			m.pool.discarding.Add(1)
			go func() {
				defer m.pool.discarding.Done()
				m.retryPooledCleanup(ctx, sb)
			}()
			return
		}
		if cleanupErr != nil {
			m.cfg.Logger.Error("cleanup after a failed RunPodSandbox failed; the sandbox stays listed NOTREADY", "sandbox", id, "error", cleanupErr)
			sb.Update(func(s Status) (Status, error) { s.Problem = cleanupErr.Error(); return s, nil })
			m.store.add(sb)
		}
	}()

	// The pod's lease is made while the files and namespaces are: the
	// pause rootfs is the first thing made under it. A failed Run's
	// cleanup (deferred above, so run after this) deletes it, once made.
	leaseDone := make(chan error, 1)
	go func() { leaseDone <- EnsureLease(ctx, m.cfg.Client.LeasesService(), id) }()
	leaseErr := sync.OnceValue(func() error { return <-leaseDone })
	defer func() { _ = leaseErr() }()
	// The pause container and its rootfs need the lease, not the files or
	// the namespaces: they are made meanwhile. The cleanup waits for them
	// too.
	madeC := make(chan madePause, 1)
	kind := KindSandbox
	if pooled {
		kind = KindPooled
	}
	go func() { madeC <- m.makePause(ctx, sb, pause, runtimeOpt, kind, leaseErr) }()
	made := sync.OnceValue(func() madePause { return <-madeC })
	defer func() { _ = made() }()

	if err := writeFiles(&md, m.cfg.ResolvConf); err != nil {
		return nil, fmt.Errorf("write pod files: %w", err)
	}
	if md.ShmPath != "" {
		if err := mountShm(md.ShmPath); err != nil {
			return nil, err
		}
	}
	if !hostNetwork {
		if err := m.createNetNS(&md); err != nil {
			return nil, err
		}
		if err := netns.BringUpLoopback(md.NetNSPath); err != nil {
			return nil, fmt.Errorf("bring up lo: %w", err)
		}
	}
	if !pooled {
		m.metrics.since(stagePrepare, start)
	}

	// The network and the pause task need only the namespace: set them up
	// side by side. The pod's IPs are recorded on the pause container as
	// soon as both exist, so that the commit is not on the path of the
	// two's slower (most often the pause's).
	var netDone <-chan error
	var ips []netip.Addr
	if hostNetwork || pooled {
		netDone = closedErr
	} else {
		var err error
		if netDone, err = m.startNetwork(ctx, sb, &ips, func() error { return made().err }); err != nil {
			return nil, err
		}
	}
	recordDone := make(chan error, 1)
	go func() { recordDone <- m.createRecord(ctx, id) }()
	pauseStart := time.Now()
	pid, taskErr := m.startPause(ctx, sb, made())
	if err := errors.Join(taskErr, <-netDone, <-recordDone); err != nil {
		return nil, err
	}
	if pooled {
		sb.Update(func(s Status) (Status, error) {
			s.State, s.Pid = runtimeapi.PodSandboxState_SANDBOX_READY, pid
			return s, nil
		})
		return sb, nil
	}
	m.metrics.since(stagePause, pauseStart)
	sb.Update(func(s Status) (Status, error) {
		s.State, s.Pid, s.IPs = runtimeapi.PodSandboxState_SANDBOX_READY, pid, ips
		return s, nil
	})
	return sb, m.announce(ctx, sb, start)
}

// announce makes a sandbox that is ready the pod's: NRI plugins agree to
// it, then it is listed and its start published.
func (m *Manager) announce(ctx context.Context, sb *Sandbox, start time.Time) error {
	if m.cfg.NRI != nil {
		// Plugins see the sandbox ready, before anyone else can: it is
		// not listed, and takes no containers, until they agreed.
		unblock := m.cfg.NRI.BlockSync()
		defer unblock()
		if err := m.cfg.NRI.RunPodSandbox(ctx, sb); err != nil {
			return fmt.Errorf("NRI plugin refused sandbox %s: %w", sb.ID, err)
		}
	}
	m.store.add(sb)
	// Visible only once ready: created and started are announced together.
	m.publish(lifecycle.Created, sb)
	m.publish(lifecycle.Started, sb)
	m.metrics.since(stageRun, start)
	m.cfg.Logger.Info("sandbox ready", "sandbox", sb.ID, "pod", sb.Config.Metadata.Namespace+"/"+sb.Config.Metadata.Name, "ips", sb.Status().IPs, "took", time.Since(start))
	return nil
}

// madePause is the pause container and its rootfs mounts, or why they
// could not be made.
type madePause struct {
	container containerd.Container
	rootfs    []mount.Mount
	err       error
}

// makePause creates the pause container and its rootfs once the pod's
// lease exists.
func (m *Manager) makePause(ctx context.Context, sb *Sandbox, p *pauseImage, runtimeOpt containerd.NewContainerOpts, kind string, leaseErr func() error) madePause {
	if err := leaseErr(); err != nil {
		return madePause{err: err}
	}
	step := time.Now()
	lctx := LeaseContext(ctx, sb.ID)
	// The rootfs is made while the container is: containerd does not look
	// for the snapshot a container names, and the pod's lease (lease.go)
	// keeps both from the garbage collector. The snapshot is made from the
	// cached chain ID, saving the image reads containerd.WithNewSnapshot
	// does, and writable, though the spec mounts it read-only: runc
	// creates the /proc, /dev and /sys mountpoints first, and images like
	// pause do not ship them.
	type prepared struct {
		mounts []mount.Mount
		err    error
	}
	rootfs := make(chan prepared, 1)
	go func() {
		mounts, err := m.cfg.Client.SnapshotService(snapshotter).Prepare(lctx, sb.ID, p.chainID, RemapSnapshotOpts(sb.IDMappings())...)
		rootfs <- prepared{mounts, err}
	}()
	container, err := m.cfg.Client.NewContainer(lctx, sb.ID,
		containerd.WithSnapshotter(snapshotter),
		withSnapshotKey(sb.ID),
		containerd.WithImageName(p.ref),
		runtimeOpt,
		containerd.WithSpec(&oci.Spec{}, m.pauseSpecOpts(&sb.Metadata, p)...),
		containerd.WithContainerLabels(map[string]string{LabelKind: kind, labelSandboxName: sb.Name}),
		containerd.WithContainerExtension(extensionMetadata, &sb.Metadata),
	)
	r := <-rootfs
	if r.err != nil {
		if errdefs.IsNotFound(r.err) {
			m.forgetPause() // the pause image's snapshot went away
		}
		return madePause{err: fmt.Errorf("pause rootfs: %w", r.err)}
	}
	if err != nil {
		return madePause{err: fmt.Errorf("create pause container: %w", err)}
	}
	m.metrics.since(stagePauseContainer, step)
	return madePause{container: container, rootfs: r.mounts}
}

// startPause creates the pause task in the container makePause made, and
// starts it.
func (m *Manager) startPause(ctx context.Context, sb *Sandbox, made madePause) (uint32, error) {
	if made.err != nil {
		return 0, made.err
	}
	container := made.container
	step := time.Now()
	task, err := taskcreate.CreateOn(ctx, m.cfg.Client, container, made.rootfs, cio.NullIO)
	if err != nil {
		return 0, fmt.Errorf("create pause task: %w", err)
	}
	m.metrics.since(stagePauseTask, step)
	// Wait before Start, so the exit cannot be missed; on a context that
	// lives as long as the sandbox.
	exitC, err := task.Wait(context.WithoutCancel(ctx))
	if err != nil {
		return 0, fmt.Errorf("wait on pause task: %w", err)
	}
	step = time.Now()
	if err := task.Start(ctx); err != nil {
		return 0, fmt.Errorf("start pause task: %w", err)
	}
	m.metrics.since(stagePauseRun, step)
	// Identified now, while it surely is the pause: Stop signals it
	// directly. A pause that already died stays unidentified; its
	// watcher records the exit.
	proc, _ := procsig.Identify(int(task.Pid()))
	m.startWatch(context.WithoutCancel(ctx), sb, container, exitC, proc)
	return task.Pid(), nil
}

// withSnapshotKey names the container's rootfs snapshot, made apart.
func withSnapshotKey(key string) containerd.NewContainerOpts {
	return func(_ context.Context, _ *containerd.Client, c *containers.Container) error {
		c.SnapshotKey = key
		return nil
	}
}

func (m *Manager) recordNetwork(ctx context.Context, id string, ips []netip.Addr) error {
	any, err := typeurl.MarshalAny(&NetworkInfo{IPs: ips})
	if err != nil {
		return err
	}
	// Only the extension, in one round trip: no read of the container first.
	_, err = m.cfg.Client.ContainerService().Update(ctx,
		containers.Container{ID: id, Extensions: map[string]typeurl.Any{extensionNetwork: any}},
		"extensions."+extensionNetwork)
	return err
}

// pauseWatch says how far the watcher of a pause task has got: exited is
// closed once the exit is recorded (the sandbox NOTREADY), deleted once the
// watcher tried to delete the task; taskDeleted, read after deleted is
// closed, says whether it did (if not, Remove tries again).
type pauseWatch struct {
	exited, deleted chan struct{}
	taskDeleted     bool
	// proc is the pause process, or the zero Process when berthd found
	// it running at start and Stop goes through runc's kill.
	proc procsig.Process
}

// startWatch starts the watcher of sb's running pause task.
func (m *Manager) startWatch(ctx context.Context, sb *Sandbox, container containerd.Container, exitC <-chan containerd.ExitStatus, proc procsig.Process) {
	w := &pauseWatch{exited: make(chan struct{}), deleted: make(chan struct{}), proc: proc}
	sb.watch.Store(w)
	go m.watchPause(ctx, sb, w, container, exitC)
}

// watchPause marks the sandbox NOTREADY when its pause process exits, and
// then deletes the task, which ends the pod's shim: runc's delete, the
// rootfs unmount and the shim's exit are work that StopPodSandbox need
// not wait for (Remove does). A lost connection to containerd (it
// restarted) is not an exit: wait again.
func (m *Manager) watchPause(ctx context.Context, sb *Sandbox, w *pauseWatch, container containerd.Container, exitC <-chan containerd.ExitStatus) {
	defer close(w.deleted)
	for {
		st := <-exitC
		if st.Error() == nil {
			break
		}
		time.Sleep(time.Second)
		task, err := container.Task(ctx, nil)
		if errdefs.IsNotFound(err) {
			break
		}
		if err != nil {
			exitC = retryLater(err)
			continue
		}
		if exitC, err = task.Wait(ctx); err != nil {
			exitC = retryLater(err)
		}
	}
	// A pooled pause that exits takes its sandbox out of the pool, which
	// removes it once the task is deleted (below).
	if m.pool.exited(sb) {
		m.pool.discarding.Add(1)
		defer func() {
			go func() {
				defer m.pool.discarding.Done()
				<-w.deleted
				m.destroyPooled(ctx, sb)
			}()
		}()
	}
	wasReady := false
	sb.Update(func(s Status) (Status, error) {
		wasReady = s.State == runtimeapi.PodSandboxState_SANDBOX_READY
		s.State, s.Pid = runtimeapi.PodSandboxState_SANDBOX_NOTREADY, 0
		return s, nil
	})
	m.cleanups.add()
	defer m.cleanups.done()
	close(w.exited)
	if wasReady {
		m.publish(lifecycle.Stopped, sb)
	}
	cctx, cancel := cleanupContext(ctx)
	defer cancel()
	if err := taskdel.Delete(cctx, m.cfg.Client, sb.ID); err != nil {
		m.cfg.Logger.Warn("deleting the exited pause task failed; RemovePodSandbox will retry", "sandbox", sb.ID, "error", err)
		return
	}
	w.taskDeleted = true
}

func retryLater(err error) <-chan containerd.ExitStatus {
	c := make(chan containerd.ExitStatus, 1)
	c <- *containerd.NewExitStatus(containerd.UnknownExitStatus, time.Time{}, err)
	return c
}

func validateConfig(cfg *runtimeapi.PodSandboxConfig) error {
	md := cfg.GetMetadata()
	switch {
	case cfg == nil:
		return fmt.Errorf("sandbox config is required: %w", errdefs.ErrInvalidArgument)
	case md == nil:
		return fmt.Errorf("sandbox config has no metadata: %w", errdefs.ErrInvalidArgument)
	case md.Name == "" || md.Namespace == "" || md.Uid == "":
		return fmt.Errorf("sandbox metadata needs name, namespace and uid (got %q, %q, %q): %w", md.Name, md.Namespace, md.Uid, errdefs.ErrInvalidArgument)
	}
	for _, pm := range cfg.GetPortMappings() {
		if pm.HostPort < 0 || pm.HostPort > 65535 || pm.ContainerPort <= 0 || pm.ContainerPort > 65535 {
			return fmt.Errorf("port mapping %d->%d out of range: %w", pm.HostPort, pm.ContainerPort, errdefs.ErrInvalidArgument)
		}
	}
	if _, err := bandwidthCapability(cfg.GetAnnotations()); err != nil {
		return err
	}
	return validateUserNamespace(cfg)
}

// makeName is the registrar key: one sandbox per pod and attempt.
func makeName(md *runtimeapi.PodSandboxMetadata) string {
	return strings.Join([]string{md.Name, md.Namespace, md.Uid, strconv.FormatUint(uint64(md.Attempt), 10)}, "_")
}

func newID() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand never fails on Linux
	}
	return hex.EncodeToString(b[:])
}

// portMappings keeps the mappings that publish a host port.
func portMappings(cfg *runtimeapi.PodSandboxConfig) []cni.PortMapping {
	var out []cni.PortMapping
	for _, pm := range cfg.GetPortMappings() {
		if pm.HostPort <= 0 {
			continue
		}
		out = append(out, cni.PortMapping{
			HostPort: pm.HostPort, ContainerPort: pm.ContainerPort,
			Protocol: strings.ToLower(pm.Protocol.String()), HostIP: pm.HostIp,
		})
	}
	return out
}

func hostPorts(mappings []cni.PortMapping) []portmap.PortMapping {
	out := make([]portmap.PortMapping, 0, len(mappings))
	for _, pm := range mappings {
		out = append(out, portmap.PortMapping{Protocol: portmap.Protocol(pm.Protocol), HostIP: pm.HostIP, HostPort: pm.HostPort})
	}
	return out
}

func dnsCapability(dns *runtimeapi.DNSConfig) *cni.DNS {
	if dns == nil {
		return nil
	}
	return &cni.DNS{Servers: dns.Servers, Searches: dns.Searches, Options: dns.Options}
}

// closedErr is a network set-up that has nothing to do: closed, it gives
// nil to every receive.
var closedErr = func() <-chan error {
	c := make(chan error)
	close(c)
	return c
}()

// startNetwork reserves the pod's hostPorts and runs CNI ADD in the
// background; the channel gives its outcome once the pod's IPs are in
// *ips and recorded on the pause container (when made says it exists).
func (m *Manager) startNetwork(ctx context.Context, sb *Sandbox, ips *[]netip.Addr, made func() error) (<-chan error, error) {
	cfg := sb.Config
	mappings := portMappings(cfg)
	bw, _ := bandwidthCapability(cfg.GetAnnotations()) // validated before the name was reserved
	if err := m.cfg.HostPorts.Reserve(sb.ID, hostPorts(mappings)); err != nil {
		return nil, err
	}
	netDone := make(chan error, 1)
	go func() {
		cniStart := time.Now()
		res, err := m.cfg.Network.Setup(ctx, cni.SandboxNetwork{
			ID: sb.ID, NetNSPath: sb.NetNSPath,
			PodName: cfg.Metadata.Name, PodNamespace: cfg.Metadata.Namespace, PodUID: cfg.Metadata.Uid,
			PortMappings: mappings, DNS: dnsCapability(cfg.GetDnsConfig()), Bandwidth: bw,
		})
		m.metrics.since(stageCNIAdd, cniStart)
		if err == nil && len(res.IPs) > 0 {
			*ips = res.IPs
			// When the pause container could not be made, Run fails
			// with that error and there is nothing to record on.
			if made() == nil {
				err = m.recordNetwork(ctx, sb.ID, res.IPs)
			}
		}
		netDone <- err
	}()
	return netDone, nil
}

// runPooled makes a pooled sandbox the pod's: the pod's files, its network,
// and its hostname and cgroup given to the pause (adopt), and the pause
// container's record rewritten as if it had been made for the pod.
func (m *Manager) runPooled(ctx context.Context, e *pooled, name string, cfg *runtimeapi.PodSandboxConfig, handler string) (retErr error) {
	start := time.Now()
	md := e.sb.Metadata
	md.Name, md.Config, md.CreatedAt = name, cfg, time.Now()
	// Pooled only with the cgroupfs driver (NewManager).
	md.MovedCgroup, _ = cgroup.Cgroupfs.Path(cfg.GetLinux().GetCgroupParent(), md.ID)
	md.CgroupsPath = md.MovedCgroup
	sb, err := m.pool.claim(e, md)
	if err != nil {
		m.discard(ctx, e.sb)
		return err
	}
	sb.Update(func(s Status) (Status, error) { s.NetworkTornDown = false; return s, nil })
	defer func() {
		if retErr == nil {
			return
		}
		cctx, cancel := cleanupContext(ctx)
		defer cancel()
		if cleanupErr := errors.Join(m.releaseRuntime(cctx, sb), m.removeRecords(cctx, sb)); cleanupErr != nil {
			m.cfg.Logger.Error("cleanup after a failed RunPodSandbox failed; the sandbox stays listed NOTREADY", "sandbox", sb.ID, "error", cleanupErr)
			sb.Update(func(s Status) (Status, error) { s.Problem = cleanupErr.Error(); return s, nil })
			m.store.add(sb)
		}
	}()
	pause, err := m.resolvePause(ctx)
	if err != nil {
		return err
	}
	if err := writeFiles(&sb.Metadata, m.cfg.ResolvConf); err != nil {
		return fmt.Errorf("write pod files: %w", err)
	}
	var ips []netip.Addr
	netDone, err := m.startNetwork(ctx, sb, &ips, func() error { return nil })
	if err != nil {
		return err
	}
	recordDone := make(chan error, 1)
	go func() { recordDone <- m.relabelPooled(ctx, sb, pause) }()
	adoptErr := m.adopt(ctx, sb, e.shimHome)
	if err := errors.Join(adoptErr, <-netDone, <-recordDone); err != nil {
		return err
	}
	if w := sb.watch.Load(); w != nil {
		select {
		case <-w.exited:
			return fmt.Errorf("the pause process of sandbox %s exited", sb.ID)
		default:
		}
	}
	sb.Update(func(s Status) (Status, error) {
		s.IPs = ips
		return s, nil
	})
	return m.announce(ctx, sb, start)
}

// relabelPooled rewrites a taken pooled pause container's record as Run
// would have written it for the pod: its labels, metadata and spec.
func (m *Manager) relabelPooled(ctx context.Context, sb *Sandbox, p *pauseImage) error {
	spec, err := oci.GenerateSpec(ctx, m.cfg.Client, &containers.Container{ID: sb.ID}, m.pauseSpecOpts(&sb.Metadata, p)...)
	if err != nil {
		return fmt.Errorf("the pod's pause spec: %w", err)
	}
	specAny, err := typeurl.MarshalAny(spec)
	if err != nil {
		return err
	}
	mdAny, err := typeurl.MarshalAny(&sb.Metadata)
	if err != nil {
		return err
	}
	_, err = m.cfg.Client.ContainerService().Update(ctx, containers.Container{
		ID:         sb.ID,
		Labels:     map[string]string{LabelKind: KindSandbox, labelSandboxName: sb.Name},
		Spec:       specAny,
		Extensions: map[string]typeurl.Any{extensionMetadata: mdAny},
	}, "labels", "spec", "extensions."+extensionMetadata)
	if err != nil {
		return fmt.Errorf("record the pooled pause as the pod's: %w", err)
	}
	return nil
}
