package integration

// Contract tests of Berth's shortcuts (docs/architecture.md, Shortcuts):
// each fails if containerd, runc or a CNI plugin stops behaving the way a
// shortcut relies on, and each runs with the shortcut off as well, so the
// upstream path berthd falls back to keeps working.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/containerd/containerd/api/services/tasks/v1"
	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/containers"
	"github.com/containerd/containerd/v2/pkg/cio"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/containerd/containerd/v2/pkg/oci"
	"github.com/containerd/errdefs"
	"github.com/containerd/errdefs/pkg/errgrpc"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/berth-cri/berth/internal/procsig"
	"github.com/berth-cri/berth/internal/task"
	"github.com/berth-cri/berth/test/harness"
)

// shortcutsOff turns every shortcut off (docs/configuration.md).
const shortcutsOff = `
[shortcuts]
task_calls = false
pidfd_signals = false
skip_idle_portmap = false
sandbox_shims = false
`

// TestTaskCallsMakeTheTaskTheClientMakes pins task_calls: a task that
// internal/task creates by the container's ID (as containers' tasks are)
// is the one the containerd client's NewTask makes (the same rootfs,
// output and states) and answers Wait, Start and Status by that ID alone;
// containerd deletes an exited task in one call, leaving no shim, bundle
// or mount; and Delete kills a task that still runs (made on known
// mounts, as pauses' tasks are).
func TestTaskCallsMakeTheTaskTheClientMakes(t *testing.T) {
	d, imageID := startWithBusybox(t)
	client := containerdOf(t, d)
	ctx, cancel := berthCtx(2 * time.Minute)
	defer cancel()
	img, err := client.GetImage(ctx, imageID)
	if err != nil {
		t.Fatal(err)
	}
	rt := berthRuntime(t, d, imageID)
	for _, tc := range []struct {
		name     string
		upstream bool
	}{{"shortcut", false}, {"upstream", true}} {
		t.Run(tc.name, func(t *testing.T) {
			calls := task.Calls{Client: client, Upstream: tc.upstream}
			const script = "echo out; echo err >&2; exit 3"
			ours := newContractContainer(t, client, img, rt, "sh", "-c", script)
			theirs := newContractContainer(t, client, img, rt, "sh", "-c", script)
			var oursOut, theirsOut outputs
			oursTask, err := calls.CreateByID(ctx, ours.ID(), "overlayfs", nil, oursOut.creator(t))
			if err != nil {
				t.Fatalf("create: %v", err)
			}
			theirsTask, err := theirs.NewTask(ctx, theirsOut.creator(t))
			if err != nil {
				t.Fatalf("the client's NewTask: %v", err)
			}
			if got, want := rootMount(t, oursTask.Pid()), rootMount(t, theirsTask.Pid()); got != want {
				t.Errorf("the task's root is %q; NewTask's is %q", got, want)
			}
			for _, tk := range []task.Task{oursTask, theirsTask} {
				if st, err := tk.Status(ctx); err != nil || st.Status != containerd.Created {
					t.Errorf("task %s after create: %v, %v; want created", tk.ID(), st.Status, err)
				}
			}
			oursExit := runToExit(t, ctx, oursTask)
			theirsExit := runToExit(t, ctx, theirsTask)
			if oursExit != 3 || theirsExit != 3 {
				t.Errorf("exit codes %d (ours) and %d (NewTask's), want 3", oursExit, theirsExit)
			}
			if got, want := oursOut.String(), theirsOut.String(); got != want || want != "stdout: out\nstderr: err\n" {
				t.Errorf("output %q; NewTask's task wrote %q", got, want)
			}
			if _, err := theirsTask.Delete(ctx, containerd.WithProcessKill); err != nil {
				t.Fatal(err)
			}
			if !tc.upstream {
				// What Delete relies on: one call deletes an exited task.
				_, err := client.TaskService().Delete(ctx, &tasks.DeleteTaskRequest{ContainerID: ours.ID()})
				if err != nil {
					t.Fatalf("containerd's Delete of an exited task: %v", errgrpc.ToNative(err))
				}
			}
			if err := calls.Delete(ctx, ours.ID()); err != nil {
				t.Fatalf("delete: %v", err)
			}
			assertNoTask(t, d, client, ours.ID())

			// A task whose process runs is killed and deleted.
			sleeper := newContractContainer(t, client, img, rt, "sleep", "3600")
			mounts, err := client.SnapshotService("overlayfs").Mounts(ctx, sleeper.ID())
			if err != nil {
				t.Fatal(err)
			}
			tk, err := calls.CreateOn(ctx, sleeper, mounts, cio.NullIO)
			if err != nil {
				t.Fatalf("create on known mounts: %v", err)
			}
			if err := tk.Start(ctx); err != nil {
				t.Fatal(err)
			}
			proc, err := procsig.Identify(int(tk.Pid()))
			if err != nil {
				t.Fatal(err)
			}
			if err := calls.Delete(ctx, sleeper.ID()); err != nil {
				t.Fatalf("delete of a running task: %v", err)
			}
			if err := proc.Signal(0); !errors.Is(err, procsig.ErrGone) {
				t.Errorf("the process of a deleted task: %v, want it gone", err)
			}
			assertNoTask(t, d, client, sleeper.ID())

			// A task whose start went wrong is deleted by the task
			// itself, killed first, as StartContainer's rollback does.
			unstarted := newContractContainer(t, client, img, rt, "sleep", "3600")
			ut, err := calls.CreateByID(ctx, unstarted.ID(), "overlayfs", nil, cio.NullIO)
			if err != nil {
				t.Fatalf("create: %v", err)
			}
			if _, err := ut.Delete(ctx, containerd.WithProcessKill); err != nil {
				t.Fatalf("the task's own Delete with WithProcessKill: %v", err)
			}
			assertNoTask(t, d, client, unstarted.ID())
			if n := waitNoShims(d); n != 0 {
				t.Errorf("%d shims run after their tasks were deleted", n)
			}
		})
	}
}

// TestPodsRunTheSameWithShortcutsOnAndOff pins what the shortcuts must
// not change, with all of them on (the default) and all off: a pod's
// containers share one shim (sandbox_shims; the runc shim's grouping by
// the sandbox-id annotation for an infra-less pod), StopContainer's
// signal reaches the container's process (pidfd_signals), a pod without
// hostPorts is networked without portmap in its chain only while
// skip_idle_portmap is on, a pod with hostPorts always gets portmap and
// is served on the node, and nothing is left once the pods are removed.
func TestPodsRunTheSameWithShortcutsOnAndOff(t *testing.T) {
	for _, tc := range []struct {
		name, config string
		skipIdle     bool
	}{{"on", "", true}, {"off", shortcutsOff, false}} {
		t.Run(tc.name, func(t *testing.T) {
			reg := harness.StartRegistry(t)
			d := harness.Start(t, harness.WithRegistryConfigDir(reg.HostsDir), harness.WithConfig(tc.config))
			image := mustPull(t, d, busyboxRef)

			shared, sharedCfg := runPod(t, d, withPodPID(runtimeapi.NamespaceMode_POD), withLogDir(t.TempDir()))
			trapping := ctrConfig(image, withCtrPID(runtimeapi.NamespaceMode_POD),
				withShell(`trap 'echo got TERM; exit 7' TERM; touch /tmp/trapped; while true; do sleep 0.1; done`))
			stopped := runContainer(t, d, shared, sharedCfg, trapping)
			runContainer(t, d, shared, sharedCfg, ctrConfig(image, withCtrPID(runtimeapi.NamespaceMode_POD)))
			if n := shimsOf(d); n != 1 {
				t.Errorf("a pod with a pause and two containers runs %d shims, want 1", n)
			}
			infraless, _ := infralessPod(t, d, image)
			if n := shimsOf(d); n != 2 {
				t.Errorf("two pods run %d shims, want 2", n)
			}

			d.WaitFor("the trap to be set", 10*time.Second, func() bool {
				resp, err := execSync(t, d, stopped, 5, "test", "-e", "/tmp/trapped")
				return err == nil && resp.ExitCode == 0
			})
			ctx, cancel := ctxTimeout(30 * time.Second)
			defer cancel()
			if _, err := d.Runtime.StopContainer(ctx, &runtimeapi.StopContainerRequest{ContainerId: stopped, Timeout: 20}); err != nil {
				t.Fatalf("StopContainer: %v", err)
			}
			st := ctrStatus(t, d, stopped).Status
			if st.ExitCode != 7 || !strings.Contains(strings.Join(readLines(st.LogPath), "\n"), "got TERM") {
				t.Errorf("the stopped container exited %d, logging %q: SIGTERM did not reach its process", st.ExitCode, readLines(st.LogPath))
			}

			if has := chainHas(t, d, infraless, "portmap"); has == tc.skipIdle {
				t.Errorf("portmap in the chain of a pod without hostPorts: %v, with skip_idle_portmap %v", has, tc.skipIdle)
			}
			// What leaving portmap out relies on: without host ports it adds
			// no rule, so the chain with it does what the chain without it does.
			if rules := iptablesNaming(t, infraless); len(rules) > 0 {
				t.Errorf("iptables rules name a pod without hostPorts:\n%s", strings.Join(rules, "\n"))
			}
			l, _ := listenInPod(t, d, infraless, "tcp", ":8080")
			serveGreeting(l, "hello from "+infraless[:12])
			if got, err := dialFromPod(t, d, shared, podIP(t, d, infraless)+":8080"); err != nil || got != "hello from "+infraless[:12] {
				t.Errorf("a pod without portmap in its chain, from another pod: %q, %v", got, err)
			}

			hostPort := freePort(t, "tcp")
			mapped, _ := runPod(t, d, withHostPort(runtimeapi.Protocol_TCP, 80, hostPort))
			if !chainHas(t, d, mapped, "portmap") {
				t.Error("a pod with a hostPort has no portmap in its chain")
			}
			l, _ = listenInPod(t, d, mapped, "tcp", ":80")
			serveGreeting(l, "mapped")
			addr := fmt.Sprintf("127.0.0.1:%d", hostPort)
			var got string
			var err error
			for range 20 {
				if got, err = readLine(addr); err == nil {
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
			if got != "mapped" {
				t.Errorf("hostPort %d: %q, %v", hostPort, got, err)
			}
			if len(iptablesNaming(t, mapped)) == 0 {
				t.Error("no iptables rule names the pod with a hostPort: the check above could not see portmap's rules")
			}

			pods := []string{shared, infraless, mapped}
			var ips []string
			for _, p := range pods {
				ips = append(ips, podIP(t, d, p))
			}
			for _, p := range pods {
				removePod(t, d, p)
			}
			if left := leftovers(t, d, pods, ips); len(left) > 0 {
				t.Errorf("left behind: %v", left)
			}
			if n := waitNoShims(d); n != 0 {
				t.Errorf("%d shims run with no pod left", n)
			}
		})
	}
}

// berthCtx is a context in Berth's containerd namespace, which the
// client's spec helpers require.
func berthCtx(timeout time.Duration) (context.Context, context.CancelFunc) {
	ctx, cancel := ctxTimeout(timeout)
	return namespaces.WithNamespace(ctx, "berth"), cancel
}

// berthRuntime is the containerd runtime, with its options, that berthd
// gives its containers: that of a container created through the CRI.
func berthRuntime(t *testing.T, d *harness.Daemon, imageID string) containers.RuntimeInfo {
	t.Helper()
	// An infra-less pod, and a container never started: neither runs a
	// shim.
	pod, podCfg := runPod(t, d, withPodPID(runtimeapi.NamespaceMode_CONTAINER))
	id := createContainer(t, d, pod, podCfg, ctrConfig(imageID, withCtrPID(runtimeapi.NamespaceMode_CONTAINER)))
	ctx, cancel := berthCtx(10 * time.Second)
	defer cancel()
	rec, err := containerdOf(t, d).ContainerService().Get(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	return rec.Runtime
}

var contractSeq atomic.Int64

// newContractContainer makes a containerd container of img running args,
// its rootfs the snapshot under its own ID, as Berth's containers have
// it; it and any task it has are deleted when the test ends.
func newContractContainer(t *testing.T, client *containerd.Client, img containerd.Image, rt containers.RuntimeInfo, args ...string) containerd.Container {
	t.Helper()
	id := fmt.Sprintf("contract-%d-%d", os.Getpid(), contractSeq.Add(1))
	ctx, cancel := berthCtx(30 * time.Second)
	defer cancel()
	withRuntime := func(_ context.Context, _ *containerd.Client, c *containers.Container) error {
		c.Runtime = rt
		return nil
	}
	cont, err := client.NewContainer(ctx, id,
		containerd.WithSnapshotter("overlayfs"),
		containerd.WithNewSnapshot(id, img),
		containerd.WithNewSpec(oci.WithImageConfig(img), oci.WithProcessArgs(args...)),
		withRuntime)
	if err != nil {
		t.Fatalf("create container %s: %v", id, err)
	}
	t.Cleanup(func() {
		ctx, cancel := berthCtx(30 * time.Second)
		defer cancel()
		if err := task.DeleteUpstream(ctx, client, id); err != nil {
			t.Errorf("delete the task of %s: %v", id, err)
		}
		if err := cont.Delete(ctx, containerd.WithSnapshotCleanup); err != nil && !errdefs.IsNotFound(err) {
			t.Errorf("delete container %s: %v", id, err)
		}
	})
	return cont
}

// outputs collects what a task writes to each stream.
type outputs struct {
	mu      sync.Mutex
	streams map[string]*bytes.Buffer
}

// String is the output stream by stream: stdout's, then stderr's.
func (o *outputs) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	var b strings.Builder
	for _, name := range []string{"stdout", "stderr"} {
		if buf := o.streams[name]; buf != nil {
			b.WriteString(name + ": " + buf.String())
		}
	}
	return b.String()
}

func (o *outputs) creator(t *testing.T) cio.Creator {
	o.streams = map[string]*bytes.Buffer{"stdout": {}, "stderr": {}}
	return cio.NewCreator(cio.WithStreams(nil, streamWriter{o, "stdout"}, streamWriter{o, "stderr"}), cio.WithFIFODir(t.TempDir()))
}

type streamWriter struct {
	o    *outputs
	name string
}

func (w streamWriter) Write(p []byte) (int, error) {
	w.o.mu.Lock()
	defer w.o.mu.Unlock()
	return w.o.streams[w.name].Write(p)
}

// runToExit starts tk, waits for its exit and its output, and returns its
// exit code; the task is then stopped.
func runToExit(t *testing.T, ctx context.Context, tk task.Task) uint32 {
	t.Helper()
	exitC, err := tk.Wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := tk.Start(ctx); err != nil {
		t.Fatalf("start %s: %v", tk.ID(), err)
	}
	var code uint32
	select {
	case st := <-exitC:
		code = st.ExitCode()
	case <-ctx.Done():
		t.Fatalf("task %s did not exit", tk.ID())
	}
	tk.IO().Wait()
	if st, err := tk.Status(ctx); err != nil || st.Status != containerd.Stopped || st.ExitStatus != code {
		t.Errorf("task %s after its exit: %+v, %v; want stopped with %d", tk.ID(), st, err, code)
	}
	return code
}

// rootMount is the filesystem type and the lower layers of the root of
// the process pid, from its mountinfo: what a task's rootfs is made of.
func rootMount(t *testing.T, pid uint32) string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/mountinfo", pid))
	if err != nil {
		t.Fatal(err)
	}
	root := ""
	for _, line := range strings.Split(string(b), "\n") {
		fields := strings.Fields(line)
		sep := -1
		for i, f := range fields {
			if f == "-" {
				sep = i
				break
			}
		}
		if len(fields) < 5 || fields[4] != "/" || sep < 0 || len(fields) < sep+4 {
			continue
		}
		root = fields[sep+1]
		for _, opt := range strings.Split(fields[sep+3], ",") {
			if strings.HasPrefix(opt, "lowerdir=") {
				root += " " + opt
			}
		}
	}
	if root == "" {
		t.Fatalf("process %d has no root mount in its mountinfo", pid)
	}
	return root
}

// assertNoTask checks that containerd has no task for id and that its
// shim left neither its bundle nor a mount in it.
func assertNoTask(t *testing.T, d *harness.Daemon, client *containerd.Client, id string) {
	t.Helper()
	ctx, cancel := berthCtx(10 * time.Second)
	defer cancel()
	if _, err := client.TaskService().Get(ctx, &tasks.GetRequest{ContainerID: id}); !errdefs.IsNotFound(errgrpc.ToNative(err)) {
		t.Errorf("task %s after its deletion: %v, want NotFound", id, err)
	}
	bundle := filepath.Join(d.State, "containerd", "io.containerd.runtime.v2.task", "berth", id)
	if m := harness.MountsUnder(bundle); len(m) > 0 {
		t.Errorf("mounts left in the bundle of %s: %v", id, m)
	}
	if _, err := os.Stat(bundle); !os.IsNotExist(err) {
		t.Errorf("the bundle of %s is left: %v", id, err)
	}
}

// iptablesNaming lists the iptables rules that name pod (portmap's
// comments carry the sandbox ID).
func iptablesNaming(t *testing.T, pod string) []string {
	t.Helper()
	out, err := exec.Command("iptables-save").Output()
	if err != nil {
		t.Fatalf("iptables-save: %v", err)
	}
	var rules []string
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(line, pod) {
			rules = append(rules, line)
		}
	}
	return rules
}

// chainHas says whether the CNI chain berthd ran for pod has a plugin of
// type plugin, from its attachment record.
func chainHas(t *testing.T, d *harness.Daemon, pod, plugin string) bool {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(d.Root, "cni", "attachments", pod+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var rec struct {
		Config struct {
			Plugins []struct {
				Type string `json:"type"`
			} `json:"plugins"`
		} `json:"config"`
	}
	if err := json.Unmarshal(b, &rec); err != nil {
		t.Fatal(err)
	}
	for _, p := range rec.Config.Plugins {
		if p.Type == plugin {
			return true
		}
	}
	return false
}
