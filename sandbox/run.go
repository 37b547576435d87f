package sandbox

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/containers"
	"github.com/containerd/containerd/v2/core/mount"
	"github.com/containerd/containerd/v2/pkg/oci"
	"github.com/containerd/errdefs"
	"github.com/containerd/typeurl/v2"
	"golang.org/x/sync/errgroup"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/berth-cri/berth/cni"
	"github.com/berth-cri/berth/internal/guard"
	"github.com/berth-cri/berth/internal/handlers"
	"github.com/berth-cri/berth/internal/lifecycle"
	"github.com/berth-cri/berth/internal/procsig"
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
	h, err := m.cfg.Handlers.Lookup(handler)
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
	done := make(chan error, 1)
	go func() {
		workCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), runTimeout)
		defer cancel()
		var err error
		func() {
			// No request's recovery covers this goroutine: a panic fails
			// this pod's start, not berthd.
			defer guard.Recover(m.cfg.Logger, "run sandbox "+name, func(e error) { err = e })
			err = m.run(workCtx, m.newMetadata(id, name, cfg, handler), h)
		}()
		m.names.finish(name, res, err)
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			return "", err
		}
		return id, nil
	case <-ctx.Done():
		return "", fmt.Errorf("sandbox %q is still being created; retry to get it: %w", name, ctx.Err())
	}
}

// newMetadata decides what the sandbox will be: where its files and
// namespaces go, and whether it has a pause.
func (m *Manager) newMetadata(id, name string, cfg *runtimeapi.PodSandboxConfig, handler string) Metadata {
	nsOpts := cfg.GetLinux().GetSecurityContext().GetNamespaceOptions()
	md := Metadata{
		ID: id, Name: name, Config: cfg, RuntimeHandler: handler, CreatedAt: time.Now(), Dir: m.sandboxDir(id),
		Infraless: m.cfg.DropInfra && nsOpts.GetPid() != runtimeapi.NamespaceMode_POD,
	}
	if !md.Infraless {
		// Validated by Run (CheckParent) before the metadata is made.
		md.CgroupsPath, _ = m.cfg.CgroupDriver.Path(cfg.GetLinux().GetCgroupParent(), id)
	}
	if !md.HostNetwork() {
		md.NetNSPath = netns.Path(m.netnsDir(), id)
		md.UTSNSPath = filepath.Join(m.stateDir(id), utsFile)
	}
	if nsOpts.GetIpc() != runtimeapi.NamespaceMode_NODE {
		md.ShmPath = filepath.Join(m.stateDir(id), shmFile)
		md.IPCNSPath = filepath.Join(m.stateDir(id), ipcFile)
	}
	if md.IDMappings().Enabled() {
		md.UserNSPath = filepath.Join(m.stateDir(id), usernsFile)
	}
	return md
}

// run is RunPodSandbox's work, in three steps: prepare what the pod's
// network and infra steps need, run those two side by side, commit. Any
// failure takes the one rollback path: the same idempotent teardown Stop
// and Remove use, which undoes whatever was made. If the teardown itself
// fails, the sandbox stays listed NOTREADY for a later Stop or Remove to
// finish, rather than leaking what it holds.
func (m *Manager) run(ctx context.Context, md Metadata, h *handlers.Handler) (retErr error) {
	start := time.Now()
	sb := newSandbox(md, Status{State: runtimeapi.PodSandboxState_SANDBOX_NOTREADY})
	defer func() {
		if retErr != nil {
			m.rollback(ctx, sb)
		}
	}()
	rec, err := m.prepare(ctx, sb, h)
	if err != nil {
		return err
	}
	var ips []netip.Addr
	var pid uint32
	g, gctx := errgroup.WithContext(ctx)
	g.Go(m.guarded("set up the network of sandbox "+sb.ID, func() (err error) { ips, err = m.setupNetwork(gctx, sb); return err }))
	g.Go(m.guarded("start the pause of sandbox "+sb.ID, func() (err error) { pid, err = m.startInfra(gctx, sb, rec); return err }))
	if err := g.Wait(); err != nil {
		return err
	}
	return m.commit(ctx, sb, pid, ips, start)
}

// guarded runs fn on a goroutine of Run's: a panic in it fails the pod's
// start (Internal), not berthd.
func (m *Manager) guarded(what string, fn func() error) func() error {
	return func() (err error) {
		defer guard.Recover(m.cfg.Logger, what, func(e error) { err = e })
		return fn()
	}
}

// rollback undoes a failed Run.
func (m *Manager) rollback(ctx context.Context, sb *Sandbox) {
	// commit may have made it READY before an NRI plugin refused it; it
	// was never announced, so its teardown announces no stop.
	sb.Set(func(s Status) Status { s.State = runtimeapi.PodSandboxState_SANDBOX_NOTREADY; return s })
	cctx, cancel := cleanupContext(ctx)
	defer cancel()
	if err := errors.Join(m.releaseRuntime(cctx, sb), m.removeRecords(cctx, sb)); err != nil {
		m.cfg.Logger.Error("cleanup after a failed RunPodSandbox failed; the sandbox stays listed NOTREADY", "sandbox", sb.ID, "error", err)
		sb.Set(func(s Status) Status { s.Problem = err.Error(); return s })
		m.store.add(sb)
	}
}

// records are what prepare made in containerd for the infra step: the
// sandbox's container, and for a pod with a pause, its rootfs.
type records struct {
	container containerd.Container
	rootfs    []mount.Mount
}

// prepare makes the pod's files, /dev/shm and namespaces on the node, and
// meanwhile, in containerd, its lease and records: the container that
// holds its Metadata (the pause container, for a pod that has one) and
// the containerd sandbox record.
func (m *Manager) prepare(ctx context.Context, sb *Sandbox, h *handlers.Handler) (records, error) {
	start := time.Now()
	type made struct {
		rec records
		err error
	}
	madeC := make(chan made, 1)
	go func() {
		var rec records
		err := m.guarded("record sandbox "+sb.ID, func() (err error) { rec, err = m.makeRecords(ctx, sb, h); return err })()
		madeC <- made{rec, err}
	}()
	nodeErr := m.prepareNode(&sb.Metadata)
	r := <-madeC
	if err := errors.Join(nodeErr, r.err); err != nil {
		return records{}, err
	}
	m.metrics.since(stagePrepare, start)
	return r.rec, nil
}

// prepareNode writes the pod's files, mounts its /dev/shm and pins its
// namespaces, loopback up.
func (m *Manager) prepareNode(md *Metadata) error {
	if err := writeFiles(md, m.cfg.ResolvConf); err != nil {
		return fmt.Errorf("write pod files: %w", err)
	}
	if md.ShmPath != "" {
		if err := m.node.MountShm(md.ShmPath); err != nil {
			return err
		}
	}
	pod := netns.Pod{Net: md.NetNSPath, IPC: md.IPCNSPath, UTS: md.UTSNSPath, Hostname: md.Hostname()}
	if ids := md.IDMappings(); ids.Enabled() {
		pod.UIDs, pod.GIDs = &ids.UIDs[0], &ids.GIDs[0]
	}
	if err := m.node.CreatePod(pod); err != nil {
		return fmt.Errorf("create the pod's namespaces: %w", err)
	}
	if md.UserNSPath != "" {
		// The namespaces' owner, for runc to join.
		pin := md.NetNSPath
		if pin == "" {
			pin = md.IPCNSPath
		}
		if err := m.node.PinUserNS(pin, md.UserNSPath); err != nil {
			return fmt.Errorf("pin user namespace: %w", err)
		}
	}
	if md.NetNSPath != "" {
		if err := m.node.BringUpLoopback(md.NetNSPath); err != nil {
			return fmt.Errorf("bring up lo: %w", err)
		}
	}
	return nil
}

// makeRecords makes the pod's lease and, under it, its records.
func (m *Manager) makeRecords(ctx context.Context, sb *Sandbox, h *handlers.Handler) (records, error) {
	if err := EnsureLease(ctx, m.cfg.Containerd.Leases, sb.ID); err != nil {
		return records{}, err
	}
	lctx := LeaseContext(ctx, sb.ID)
	if sb.Infraless {
		c, err := m.cfg.Containerd.Containers.NewContainer(lctx, sb.ID,
			containerd.WithSpec(&oci.Spec{}, oci.WithAnnotations(sandboxAnnotations(&sb.Metadata))),
			h.ContainerOpts(),
			containerd.WithContainerLabels(map[string]string{LabelKind: KindSandbox, labelSandboxName: sb.Name}),
			containerd.WithContainerExtension(extensionMetadata, &sb.Metadata),
		)
		if err != nil {
			return records{}, fmt.Errorf("record the sandbox in containerd: %w", err)
		}
		return records{container: c}, nil
	}
	pause, err := m.resolvePause(ctx)
	if err != nil {
		return records{}, err
	}
	recordDone := make(chan error, 1)
	go func() { recordDone <- m.createRecord(ctx, sb.ID, h.Type) }()
	made := m.makePause(lctx, sb, pause, h.ContainerOpts())
	if err := errors.Join(made.err, <-recordDone); err != nil {
		return records{}, err
	}
	return records{container: made.container, rootfs: made.rootfs}, nil
}

// setupNetwork reserves the pod's hostPorts and attaches it to the pod
// network (CNI ADD); the IPs are recorded on the sandbox's container.
func (m *Manager) setupNetwork(ctx context.Context, sb *Sandbox) ([]netip.Addr, error) {
	if sb.HostNetwork() {
		return nil, nil
	}
	cfg := sb.Config
	mappings := portMappings(cfg)
	bw, _ := bandwidthCapability(cfg.GetAnnotations()) // validated before the name was reserved
	if err := m.cfg.HostPorts.Reserve(sb.ID, hostPorts(mappings)); err != nil {
		return nil, err
	}
	cniStart := time.Now()
	res, err := m.cfg.Network.Setup(ctx, cni.SandboxNetwork{
		ID: sb.ID, NetNSPath: sb.NetNSPath,
		PodName: cfg.Metadata.Name, PodNamespace: cfg.Metadata.Namespace, PodUID: cfg.Metadata.Uid,
		PortMappings: mappings, DNS: dnsCapability(cfg.GetDnsConfig()), Bandwidth: bw,
	})
	m.metrics.since(stageCNIAdd, cniStart)
	if err != nil {
		return nil, err
	}
	if len(res.IPs) == 0 {
		return nil, nil
	}
	return res.IPs, m.recordNetwork(ctx, sb.ID, res.IPs)
}

// startInfra starts the pod's pause task, for a pod that has one, and
// returns its PID.
func (m *Manager) startInfra(ctx context.Context, sb *Sandbox, rec records) (uint32, error) {
	if sb.Infraless {
		return 0, nil
	}
	start := time.Now()
	pid, err := m.startPause(ctx, sb, rec)
	if err == nil {
		m.metrics.since(stagePause, start)
	}
	return pid, err
}

// commit makes the started sandbox ready and the pod's: NRI plugins agree
// to it, then it is listed and its start published.
func (m *Manager) commit(ctx context.Context, sb *Sandbox, pid uint32, ips []netip.Addr, start time.Time) error {
	if sb.Infraless {
		// What says, after a restart, that the pod was not stopped.
		if err := markReady(m.stateDir(sb.ID)); err != nil {
			return err
		}
	}
	sb.Set(func(s Status) Status {
		s.State, s.Pid, s.IPs = runtimeapi.PodSandboxState_SANDBOX_READY, pid, ips
		return s
	})
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
	m.cfg.Logger.Info("sandbox ready", "sandbox", sb.ID, "pod", sb.Config.Metadata.Namespace+"/"+sb.Config.Metadata.Name, "ips", ips, "infraless", sb.Infraless, "took", time.Since(start))
	return nil
}

// madePause is the pause container and its rootfs mounts, or why they
// could not be made.
type madePause struct {
	container containerd.Container
	rootfs    []mount.Mount
	err       error
}

// makePause creates the pause container and its rootfs, under the pod's
// lease (ctx).
func (m *Manager) makePause(lctx context.Context, sb *Sandbox, p *pauseImage, runtimeOpt containerd.NewContainerOpts) madePause {
	step := time.Now()
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
		mounts, err := m.cfg.Containerd.Snapshots.Prepare(lctx, sb.ID, p.chainID, RemapSnapshotOpts(sb.IDMappings())...)
		rootfs <- prepared{mounts, err}
	}()
	container, err := m.cfg.Containerd.Containers.NewContainer(lctx, sb.ID,
		containerd.WithSnapshotter(snapshotter),
		withSnapshotKey(sb.ID),
		containerd.WithImageName(p.ref),
		containerd.WithSpec(&oci.Spec{}, m.pauseSpecOpts(&sb.Metadata, p)...),
		runtimeOpt, // after the spec, which the handler may label
		containerd.WithContainerLabels(map[string]string{LabelKind: KindSandbox, labelSandboxName: sb.Name}),
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
func (m *Manager) startPause(ctx context.Context, sb *Sandbox, made records) (uint32, error) {
	container := made.container
	step := time.Now()
	pause, err := m.cfg.Containerd.Tasks.Create(ctx, container, made.rootfs)
	if err != nil {
		return 0, fmt.Errorf("create pause task: %w", err)
	}
	m.metrics.since(stagePauseTask, step)
	// Wait before Start, so the exit cannot be missed; on a context that
	// lives as long as the sandbox.
	exitC, err := pause.Wait(context.WithoutCancel(ctx))
	if err != nil {
		return 0, fmt.Errorf("wait on pause task: %w", err)
	}
	step = time.Now()
	if err := pause.Start(ctx); err != nil {
		return 0, fmt.Errorf("start pause task: %w", err)
	}
	m.metrics.since(stagePauseRun, step)
	// Identified now, while it surely is the pause: Stop signals it
	// directly. A pause that already died stays unidentified; its
	// watcher records the exit.
	proc := procsig.Policy{Off: m.cfg.UpstreamSignals}.Identify(pause.Pid())
	m.startWatch(context.WithoutCancel(ctx), sb, container, exitC, proc)
	return pause.Pid(), nil
}

// withSnapshotKey names the container's rootfs snapshot, made apart.
func withSnapshotKey(key string) containerd.NewContainerOpts {
	return func(_ context.Context, _ *containerd.Client, c *containers.Container) error {
		c.SnapshotKey = key
		return nil
	}
}

func (m *Manager) recordNetwork(ctx context.Context, id string, ips []netip.Addr) error {
	info, err := typeurl.MarshalAny(&NetworkInfo{IPs: ips})
	if err != nil {
		return err
	}
	// Only the extension, in one round trip: no read of the container first.
	_, err = m.cfg.Containerd.Containers.Update(ctx,
		containers.Container{ID: id, Extensions: map[string]typeurl.Any{extensionNetwork: info}},
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
		t, err := container.Task(ctx, nil)
		if errdefs.IsNotFound(err) {
			break
		}
		if err != nil {
			exitC = retryLater(err)
			continue
		}
		if exitC, err = t.Wait(ctx); err != nil {
			exitC = retryLater(err)
		}
	}
	wasReady := false
	sb.Set(func(s Status) Status {
		wasReady = s.State == runtimeapi.PodSandboxState_SANDBOX_READY
		s.State, s.Pid = runtimeapi.PodSandboxState_SANDBOX_NOTREADY, 0
		return s
	})
	m.cleanups.add()
	defer m.cleanups.done()
	close(w.exited)
	if wasReady {
		m.publish(lifecycle.Stopped, sb)
	}
	cctx, cancel := cleanupContext(ctx)
	defer cancel()
	if err := m.cfg.Containerd.Tasks.Delete(cctx, sb.ID); err != nil {
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
	if err := validateDNS(cfg.GetDnsConfig()); err != nil {
		return err
	}
	if err := plainWord("hostname", cfg.GetHostname()); err != nil {
		return err
	}
	if err := validateSysctls(cfg); err != nil {
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
