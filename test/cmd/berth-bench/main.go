// Command berth-bench times the same CRI workload against several runtime
// endpoints in one run, alternating between them so that machine load hits
// all alike, and prints each operation's median and p99 per runtime and
// the ratio of the first runtime's median to each other's.
//
// The workload of one iteration is a pod's life as kubelet drives it:
// RunPodSandbox, CreateContainer, StartContainer (and the three together,
// the pod's start), three ExecSyncs as exec probes run them,
// StopContainer, RemoveContainer, StopPodSandbox, RemovePodSandbox; then
// RemoveImage and a timed PullImage of a small image. Then RunPodSandbox
// N-way in parallel, and a burst: --burst pods started at once, each
// Run+Create+Start, as kubelet's pod workers start a burst of pods.
//
// Then two phases the lifecycle cannot show. The memory phase reads the RSS
// (all, and anonymous) of each runtime's own processes (--pids: berthd and
// the containerd it supervises; containerd with its CRI plugin) with no pods
// and at 100 running pods, and of the pods' shims apart, since both run one
// per pod. The list phase runs 500 started containers (50 pods of 10) on
// each runtime and times the List calls kubelet makes: all containers,
// running ones, one pod's by label, all pods, one pod by label, and the
// stats Lists.
//
// With --critest-results it only summarises the JSON critest -benchmark
// wrote for each runtime, in the same table; with --samples, timings taken
// in turns by another driver (hack/bench-kubelet.sh: a real kubelet's static
// pods to Ready).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// runtimeEndpoint is one CRI endpoint under test.
type runtimeEndpoint struct {
	name    string
	runtime runtimeapi.RuntimeServiceClient
	images  runtimeapi.ImageServiceClient

	mu      sync.Mutex
	samples map[string][]time.Duration
	order   []string // operations in the order first recorded: the report's rows
	// steal is the CPU steal of each critest run read (cpu-steal, written
	// by bench.sh), or "?" for a run without it.
	steal []string
}

// record adds one sample of op; safe for concurrent use.
func (rt *runtimeEndpoint) record(op string, d time.Duration) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if _, ok := rt.samples[op]; !ok {
		rt.order = append(rt.order, op)
	}
	rt.samples[op] = append(rt.samples[op], d)
}

func main() {
	var (
		endpoints  = flag.String("endpoints", "", "name=unix-socket-path,... ; the first is the one compared")
		iterations = flag.Int("iterations", 20, "pod lifecycles per runtime")
		parallel   = flag.String("parallel", "4,16", "RunPodSandbox calls at once in the parallel phases (empty skips them)")
		burst      = flag.Int("burst", 10, "pods started at once, each Run+Create+Start, as kubelet's pod workers start a burst of pods (0 skips the phase)")
		image      = flag.String("image", "registry.k8s.io/e2e-test-images/busybox:1.29-2", "container image")
		pullImage  = flag.String("pull-image", "gcr.io/k8s-staging-cri-tools/test-image-1:latest", "image removed and pulled each iteration")
		listCtrs   = flag.Int("list-containers", 500, "running containers (10 a pod) the List calls are timed against (0 skips the phase)")
		listCalls  = flag.Int("list-calls", 50, "calls of each List per runtime (a fifth as many of the stats Lists)")
		memPods    = flag.Int("memory-pods", 100, "running pods (one container each) memory is read at (0 skips the phase)")
		pidSpec    = flag.String("pids", "", "each runtime's own processes for the memory phase: name=pid+pid,... (bench.sh passes them)")
		shimSpec   = flag.String("shim-sockets", "", "each runtime's shim socket directory (containerd's shim socket_dir) for the memory phase: name=dir,... (bench.sh passes them)")
		critest    = flag.String("critest-results", "", "only summarise critest -benchmark output: name=directory,... ; the first is the one compared")
		samplesF   = flag.String("samples", "", "only summarise timings taken in turns elsewhere: a file of runtime<TAB>operation<TAB>nanoseconds lines (hack/bench-kubelet.sh)")
		markdown   = flag.Bool("markdown", false, "print markdown tables")
		handler    = flag.String("runtime-handler", "", "runtime handler (RuntimeClass) of every pod and pull; empty is each runtime's default")
		logRoot    = flag.String("log-root", "", "where pods' log directories go, as kubelet's /var/log/pods: every container writes its log file there; empty runs containers without logs")
		sharePID   = flag.Bool("share-pid", false, "pods as kubelet asks for them with shareProcessNamespace (a pause in every runtime); the default is kubelet's pods without it")
		execTO     = flag.Int64("exec-timeout", 1, "ExecSync's timeout in seconds (kubelet's default probe timeout is 1; an emulated VM needs more)")
		podSlices  = flag.Bool("pod-slices", false, "lifecycle pods in a systemd slice each, as kubelet's systemd cgroup driver makes them (untimed systemctl start and stop around each pod; runtimes with the systemd driver)")
	)
	flag.Parse()
	if *samplesF != "" {
		f, err := os.Open(*samplesF)
		if err == nil {
			var rts []*runtimeEndpoint
			rts, err = loadSamples(f)
			f.Close()
			if err == nil {
				report(os.Stdout, rts, *markdown, true)
				return
			}
		}
		fmt.Fprintln(os.Stderr, "berth-bench:", err)
		os.Exit(1)
	}
	if *critest != "" {
		rts, err := loadCritest(*critest)
		if err != nil {
			fmt.Fprintln(os.Stderr, "berth-bench:", err)
			os.Exit(1)
		}
		report(os.Stdout, rts, *markdown, false)
		reportSteal(os.Stdout, rts)
		// A spell of stolen CPU time can fall on one runtime's runs only:
		// the runs without one are compared apart.
		if quiet, ok := quietRuns(*critest, quietSteal); ok {
			if qrts, err := loadCritest(quiet); err == nil {
				fmt.Printf("\nThe runs with at most %.0f%% CPU steal only (berth-bench --critest-results %s):\n", quietSteal, quiet)
				report(os.Stdout, qrts, *markdown, false)
			}
		}
		return
	}
	pids, err := parsePIDs(*pidSpec)
	if err != nil {
		fmt.Fprintln(os.Stderr, "berth-bench:", err)
		os.Exit(2)
	}
	shimDirs, err := parseDirs(*shimSpec)
	if err != nil {
		fmt.Fprintln(os.Stderr, "berth-bench:", err)
		os.Exit(2)
	}
	rts, err := connect(*endpoints)
	if err != nil {
		fmt.Fprintln(os.Stderr, "berth-bench:", err)
		os.Exit(2)
	}
	b := &bench{image: *image, pullImage: *pullImage, handler: *handler, sharePID: *sharePID, logRoot: *logRoot, podSlices: *podSlices, execTimeout: *execTO}
	var widths []int
	for _, w := range strings.Split(*parallel, ",") {
		var n int
		if _, err := fmt.Sscan(w, &n); err == nil && n > 0 {
			widths = append(widths, n)
		}
	}
	// Interrupted, the phases stop and tear down the pods they started: the
	// runtimes die with bench.sh, but shims and containers would outlive them.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ticks0, stealErr := readCPUTicks()
	b.burst = *burst
	if err := b.run(ctx, rts, *iterations, widths); err != nil {
		fmt.Fprintln(os.Stderr, "berth-bench:", err)
		os.Exit(1)
	}
	var mem []memoryResult
	if *memPods > 0 {
		if mem, err = b.memoryPhase(ctx, rts, pids, shimDirs, *memPods); err != nil {
			fmt.Fprintln(os.Stderr, "berth-bench: memory phase:", err)
			os.Exit(1)
		}
	}
	if *listCtrs > 0 {
		if err := b.listPhase(ctx, rts, *listCtrs, *listCalls); err != nil {
			fmt.Fprintln(os.Stderr, "berth-bench: list phase:", err)
			os.Exit(1)
		}
	}
	// Every phase alternates the runtimes call by call, or round by round.
	report(os.Stdout, rts, *markdown, true)
	if ticks1, err := readCPUTicks(); stealErr == nil && err == nil {
		// The memory phase, untimed, is in the span too.
		fmt.Printf("CPU time stolen by the hypervisor over the run: %.1f%% (the runtimes alternate call by call: it falls on both alike)\n", stealPercent(ticks0, ticks1))
	}
	if mem != nil {
		fmt.Println()
		reportMemory(os.Stdout, rts, pids, mem, *markdown)
	}
}

func connect(spec string) ([]*runtimeEndpoint, error) {
	var out []*runtimeEndpoint
	for _, part := range strings.Split(spec, ",") {
		name, sock, ok := strings.Cut(part, "=")
		if !ok {
			return nil, fmt.Errorf("endpoint %q: want name=socket", part)
		}
		conn, err := grpc.NewClient("unix://"+sock, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			return nil, err
		}
		out = append(out, &runtimeEndpoint{
			name: name, runtime: runtimeapi.NewRuntimeServiceClient(conn), images: runtimeapi.NewImageServiceClient(conn),
			samples: map[string][]time.Duration{},
		})
	}
	if len(out) < 2 {
		return nil, fmt.Errorf("need at least two endpoints to compare, got %d", len(out))
	}
	return out, nil
}

type bench struct {
	image, pullImage string
	// handler is the runtime handler every pod runs under (RuntimeClass);
	// each runtime compared must have one of that name.
	handler string
	// sharePID gives every pod one PID namespace (shareProcessNamespace).
	sharePID bool
	// logRoot holds the pods' log directories (kubelet's /var/log/pods);
	// empty: no logs.
	logRoot string
	// podSlices gives each pod of the lifecycle and parallel phases a
	// systemd slice of its own (slices.go).
	podSlices bool
	// execTimeout is each ExecSync's timeout, in seconds.
	execTimeout int64
	// burst is the number of pods the burst phase starts at once.
	burst int
	seq   int
	mu    sync.Mutex
}

func (b *bench) run(ctx context.Context, rts []*runtimeEndpoint, iterations int, parallel []int) error {
	for _, rt := range rts {
		if _, err := rt.images.PullImage(ctx, &runtimeapi.PullImageRequest{Image: &runtimeapi.ImageSpec{Image: b.image}}); err != nil {
			return fmt.Errorf("%s: pull %s: %w", rt.name, b.image, err)
		}
		// One untimed pod first: pause image, caches, CNI bridge creation.
		if err := b.lifecycle(ctx, rt, false); err != nil {
			return fmt.Errorf("%s: warm-up: %w", rt.name, err)
		}
	}
	for i := 0; i < iterations; i++ {
		for j := range rts {
			rt := rts[(i+j)%len(rts)] // alternate who goes first
			if err := b.lifecycle(ctx, rt, true); err != nil {
				return fmt.Errorf("%s: iteration %d: %w", rt.name, i, err)
			}
			if err := b.pull(ctx, rt); err != nil {
				return fmt.Errorf("%s: iteration %d: %w", rt.name, i, err)
			}
		}
	}
	for _, n := range parallel {
		for round := 0; round < 3; round++ {
			for _, rt := range rts {
				if err := b.parallelRun(ctx, rt, n); err != nil {
					return fmt.Errorf("%s: %d parallel RunPodSandbox: %w", rt.name, n, err)
				}
			}
		}
	}
	if b.burst > 0 {
		for round := 0; round < 3; round++ {
			for j := range rts {
				rt := rts[(round+j)%len(rts)]
				if err := b.burstRun(ctx, rt, b.burst); err != nil {
					return fmt.Errorf("%s: a burst of %d pods: %w", rt.name, b.burst, err)
				}
			}
		}
	}
	return nil
}

func (b *bench) podConfig() *runtimeapi.PodSandboxConfig {
	b.mu.Lock()
	b.seq++
	n := b.seq
	b.mu.Unlock()
	name := fmt.Sprintf("bench-%d-%d", os.Getpid(), n)
	logDir := ""
	if b.logRoot != "" { // as kubelet names it: namespace_name_uid
		logDir = filepath.Join(b.logRoot, "bench_"+name+"_"+name)
	}
	return &runtimeapi.PodSandboxConfig{
		LogDirectory: logDir,
		Metadata:     &runtimeapi.PodSandboxMetadata{Name: name, Namespace: "bench", Uid: name},
		Hostname:     name,
		// The labels kubelet sets and selects pods and containers by.
		Labels: map[string]string{labelPodUID: name, labelPodName: name, labelPodNamespace: "bench"},
		Linux: &runtimeapi.LinuxPodSandboxConfig{SecurityContext: &runtimeapi.LinuxSandboxSecurityContext{
			NamespaceOptions: b.kubeletNamespaces(),
		}},
	}
}

// kubeletNamespaces are the namespaces kubelet asks for a pod: a PID
// namespace per container, or, with shareProcessNamespace (-share-pid),
// one for the pod, held by a pause.
func (b *bench) kubeletNamespaces() *runtimeapi.NamespaceOption {
	pid := runtimeapi.NamespaceMode_CONTAINER
	if b.sharePID {
		pid = runtimeapi.NamespaceMode_POD
	}
	return &runtimeapi.NamespaceOption{Network: runtimeapi.NamespaceMode_POD, Pid: pid, Ipc: runtimeapi.NamespaceMode_POD}
}

// The masked and read-only paths kubelet sends for procMount Default
// (k8s.io/kubernetes/pkg/securitycontext), which runtimes apply as sent.
var (
	kubeletMaskedPaths = []string{
		"/proc/asound", "/proc/acpi", "/proc/interrupts", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
		"/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware",
		"/sys/devices/virtual/powercap",
	}
	kubeletReadonlyPaths = []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}
)

// sleeper is a busybox container that sleeps for an hour, labelled as
// kubelet labels its containers. Its shell ends on SIGTERM: as PID 1 of a
// PID namespace of its own, a bare sleep would ignore it, and
// StopContainer would wait out the grace period.
func (b *bench) sleeper(pod *runtimeapi.PodSandboxConfig, name string) *runtimeapi.ContainerConfig {
	logPath := ""
	if pod.GetLogDirectory() != "" { // as kubelet names it: container/attempt.log
		logPath = name + "/0.log"
	}
	return &runtimeapi.ContainerConfig{
		Metadata: &runtimeapi.ContainerMetadata{Name: name},
		LogPath:  logPath,
		Image:    &runtimeapi.ImageSpec{Image: b.image},
		Command:  []string{"sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"},
		Labels: map[string]string{
			labelPodUID: pod.GetMetadata().GetUid(), labelPodName: pod.GetMetadata().GetName(),
			labelPodNamespace: pod.GetMetadata().GetNamespace(), labelContainerName: name,
		},
		Linux: &runtimeapi.LinuxContainerConfig{SecurityContext: &runtimeapi.LinuxContainerSecurityContext{
			NamespaceOptions: b.kubeletNamespaces(),
			MaskedPaths:      kubeletMaskedPaths,
			ReadonlyPaths:    kubeletReadonlyPaths,
		}},
	}
}

// timed runs op and records its duration under name if record is set.
func timed(rt *runtimeEndpoint, record bool, name string, op func() error) error {
	start := time.Now()
	err := op()
	if err == nil && record {
		rt.record(name, time.Since(start))
	}
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

func (b *bench) lifecycle(ctx context.Context, rt *runtimeEndpoint, record bool) (retErr error) {
	cfg := b.podConfig()
	if b.podSlices {
		slice := []string{withSlice(cfg)}
		if err := systemctl(ctx, "start", slice); err != nil {
			return err
		}
		defer func() {
			if err := systemctl(context.WithoutCancel(ctx), "stop", slice); err != nil && retErr == nil {
				retErr = err
			}
		}()
	}
	var podID, ctrID string
	execProbe := func() error {
		r, err := rt.runtime.ExecSync(ctx, &runtimeapi.ExecSyncRequest{ContainerId: ctrID, Cmd: []string{"true"}, Timeout: b.execTimeout})
		if err == nil && r.GetExitCode() != 0 {
			err = fmt.Errorf("exit code %d, stderr %q", r.GetExitCode(), r.GetStderr())
		}
		return err
	}
	steps := []struct {
		name string
		op   func() error
	}{
		{"RunPodSandbox", func() error {
			r, err := rt.runtime.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: cfg, RuntimeHandler: b.handler})
			podID = r.GetPodSandboxId()
			return err
		}},
		{"CreateContainer", func() error {
			r, err := rt.runtime.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{
				PodSandboxId: podID, SandboxConfig: cfg, Config: b.sleeper(cfg, "sleeper"),
			})
			ctrID = r.GetContainerId()
			return err
		}},
		{"StartContainer", func() error {
			_, err := rt.runtime.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: ctrID})
			return err
		}},
		// Exec probes as kubelet runs them, three times in the container's
		// life: a command with the probe's default one-second timeout (--exec-timeout),
		// its exit code checked.
		{"ExecSync", execProbe}, {"ExecSync", execProbe}, {"ExecSync", execProbe},
		{"StopContainer", func() error {
			_, err := rt.runtime.StopContainer(ctx, &runtimeapi.StopContainerRequest{ContainerId: ctrID, Timeout: 10})
			return err
		}},
		{"RemoveContainer", func() error {
			_, err := rt.runtime.RemoveContainer(ctx, &runtimeapi.RemoveContainerRequest{ContainerId: ctrID})
			return err
		}},
		{"StopPodSandbox", func() error {
			_, err := rt.runtime.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: podID})
			return err
		}},
		{"RemovePodSandbox", func() error {
			_, err := rt.runtime.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: podID})
			return err
		}},
	}
	begin := time.Now()
	for _, s := range steps {
		if err := timed(rt, record, s.name, s.op); err != nil {
			return err
		}
		// What a user waits for: from RunPodSandbox's call to the
		// container running, the three calls back to back.
		if s.name == "StartContainer" && record {
			rt.record(podStartRow, time.Since(begin))
		}
	}
	return nil
}

// podStartRow is the row of RunPodSandbox, CreateContainer and
// StartContainer together.
const podStartRow = "pod start (Run+Create+Start)"

func (b *bench) pull(ctx context.Context, rt *runtimeEndpoint) error {
	spec := &runtimeapi.ImageSpec{Image: b.pullImage, RuntimeHandler: b.handler}
	if _, err := rt.images.RemoveImage(ctx, &runtimeapi.RemoveImageRequest{Image: spec}); err != nil {
		return fmt.Errorf("RemoveImage: %w", err)
	}
	return timed(rt, true, "PullImage", func() error {
		_, err := rt.images.PullImage(ctx, &runtimeapi.PullImageRequest{Image: spec})
		return err
	})
}

// parallelRun starts n sandboxes at once, times each call, then removes them.
func (b *bench) parallelRun(ctx context.Context, rt *runtimeEndpoint, n int) error {
	name := fmt.Sprintf("RunPodSandbox x%d", n)
	return b.atOnce(ctx, rt, n, func(cfg *runtimeapi.PodSandboxConfig) (string, error) {
		start := time.Now()
		r, err := rt.runtime.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: cfg, RuntimeHandler: b.handler})
		if err == nil {
			rt.record(name, time.Since(start))
		}
		return r.GetPodSandboxId(), err
	})
}

// atOnce makes n pods' configs (and slices) and runs pod on each, all at
// once, each on a goroutine of its own; pod returns the ID of the sandbox
// it started, if any. Then the pods are stopped and removed, their
// containers with them (kubelet would stop the containers first, with
// their grace period; this is not timed).
func (b *bench) atOnce(ctx context.Context, rt *runtimeEndpoint, n int, pod func(*runtimeapi.PodSandboxConfig) (string, error)) (retErr error) {
	cfgs, stopSlices, err := b.podConfigs(ctx, n)
	if err != nil {
		return err
	}
	defer func() {
		if err := stopSlices(); err != nil && retErr == nil {
			retErr = err
		}
	}()
	ids := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { ids[i], errs[i] = pod(cfgs[i]) })
	}
	wg.Wait()
	return errors.Join(errors.Join(errs...), removePods(ctx, rt, ids))
}

// podConfigs makes n pods' configs and, with --pod-slices, starts their
// slices; the function returned stops those.
func (b *bench) podConfigs(ctx context.Context, n int) ([]*runtimeapi.PodSandboxConfig, func() error, error) {
	cfgs := make([]*runtimeapi.PodSandboxConfig, n)
	var slices []string
	for i := range cfgs {
		cfgs[i] = b.podConfig()
		if b.podSlices {
			slices = append(slices, withSlice(cfgs[i]))
		}
	}
	if err := systemctl(ctx, "start", slices); err != nil {
		return nil, nil, err
	}
	return cfgs, func() error { return systemctl(context.WithoutCancel(ctx), "stop", slices) }, nil
}

// removePods stops and removes the pods ids names (an empty ID is a pod
// that did not start), their containers with them.
func removePods(ctx context.Context, rt *runtimeEndpoint, ids []string) error {
	var errs []error
	for _, id := range ids {
		if id == "" {
			continue
		}
		if _, err := rt.runtime.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: id}); err != nil {
			errs = append(errs, fmt.Errorf("StopPodSandbox: %w", err))
		}
		if _, err := rt.runtime.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: id}); err != nil {
			errs = append(errs, fmt.Errorf("RemovePodSandbox: %w", err))
		}
	}
	return errors.Join(errs...)
}

// burstRun starts n pods at once, each with RunPodSandbox, CreateContainer
// and StartContainer back to back, as kubelet's pod workers start the pods
// of a burst (a node coming up, a rollout, static pods): the pods compete
// for the machine. It records each pod's start and each StartContainer,
// then removes the pods.
func (b *bench) burstRun(ctx context.Context, rt *runtimeEndpoint, n int) error {
	startRow, ctrRow := fmt.Sprintf("pod start x%d", n), fmt.Sprintf("StartContainer x%d", n)
	return b.atOnce(ctx, rt, n, func(cfg *runtimeapi.PodSandboxConfig) (string, error) {
		begin := time.Now()
		r, err := rt.runtime.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: cfg, RuntimeHandler: b.handler})
		if err != nil {
			return "", fmt.Errorf("RunPodSandbox: %w", err)
		}
		id := r.GetPodSandboxId()
		c, err := rt.runtime.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{
			PodSandboxId: id, SandboxConfig: cfg, Config: b.sleeper(cfg, "sleeper"),
		})
		if err != nil {
			return id, fmt.Errorf("CreateContainer: %w", err)
		}
		start := time.Now()
		if _, err := rt.runtime.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: c.GetContainerId()}); err != nil {
			return id, fmt.Errorf("StartContainer: %w", err)
		}
		rt.record(ctrRow, time.Since(start))
		rt.record(startRow, time.Since(begin))
		return id, nil
	})
}
