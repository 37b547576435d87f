package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	metadata "github.com/checkpoint-restore/checkpointctl/lib"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/berth-cri/berth/internal/checkpoint"
	"github.com/berth-cri/berth/test/harness"
)

// counterScript counts in a file, so a checkpoint's effect on the process
// shows: a restarted process would start again from 1.
const counterScript = `i=0; while true; do i=$((i+1)); echo $i > /tmp/counter; sleep 0.2; done`

// criuWorks asks the node the question berthd asks, independently of it.
func criuWorks(t *testing.T) (bool, string) {
	t.Helper()
	out, err := exec.Command("criu", "check").CombinedOutput()
	return err == nil, string(out)
}

func counter(t *testing.T, d *harness.Daemon, id string) int {
	t.Helper()
	n, err := strconv.Atoi(mustExec(t, d, id, "cat", "/tmp/counter"))
	if err != nil {
		t.Fatalf("counter: %v", err)
	}
	return n
}

// counterAdvances waits for the counter to pass from.
func counterAdvances(t *testing.T, d *harness.Daemon, id string, from int) int {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		n := counter(t, d, id)
		if n > from {
			return n
		}
		if time.Now().After(deadline) {
			t.Fatalf("counter of %s stuck at %d", id, n)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func emptyDirCheck(t *testing.T, dir, what string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("%s left %q in %s", what, names, dir)
	}
}

// TestCheckpointContainer checkpoints a counting container. Where CRIU
// works the archive holds checkpointctl's layout and a container restored
// from it in a new pod counts on; where it cannot (Debian 12's CRIU 3.17.1
// on Linux 6.13+) the answer is FailedPrecondition naming why. Either way
// the checkpointed container keeps running and counting.
func TestCheckpointContainer(t *testing.T) {
	d, busybox := startWithBusybox(t)
	podID, podCfg := runPod(t, d, withLogDir(t.TempDir()))
	id := runContainer(t, d, podID, podCfg, ctrConfig(busybox, withShell(counterScript)))
	before := counterAdvances(t, d, id, 0)

	out := t.TempDir()
	location := filepath.Join(out, "counter.tar")
	ctx, cancel := ctxTimeout(5 * time.Minute)
	defer cancel()
	_, err := d.Runtime.CheckpointContainer(ctx, &runtimeapi.CheckpointContainerRequest{ContainerId: id, Location: location})

	works, check := criuWorks(t)
	if !works {
		if status.Code(err) != codes.FailedPrecondition {
			t.Fatalf("CheckpointContainer without a working CRIU = %v, want FailedPrecondition", err)
		}
		msg := status.Convert(err).Message()
		t.Logf("CheckpointContainer: %s", msg)
		if !strings.Contains(msg, "criu check") {
			t.Errorf("the error does not say CRIU's check failed: %q", msg)
		}
		// The error carries CRIU's own first error line.
		if first := firstCRIUError(check); first != "" && !strings.Contains(msg, first) {
			t.Errorf("the error does not quote CRIU's %q: %q", first, msg)
		}
		if maps, _ := os.ReadFile("/proc/self/maps"); strings.Contains(string(maps), "[vvar_vclock]") && !strings.Contains(msg, "vDSO layout") {
			t.Errorf("on a kernel with [vvar_vclock] the error does not name the vDSO layout: %q", msg)
		}
		emptyDirCheck(t, out, "a refused checkpoint")
	} else {
		if err != nil {
			t.Fatalf("CheckpointContainer: %v", err)
		}
		assertContainerArchive(t, location)
	}

	if st := ctrStatus(t, d, id).Status.State; st != runtimeapi.ContainerState_CONTAINER_RUNNING {
		t.Fatalf("container is %s after CheckpointContainer, want RUNNING", st)
	}
	counterAdvances(t, d, id, before)

	if works {
		// Restored into another pod, the counter goes on from where the
		// checkpoint took it instead of starting again from 1.
		newPod, newPodCfg := runPod(t, d, withLogDir(t.TempDir()))
		cfg := ctrConfig(busybox)
		cfg.Image, cfg.Command = &runtimeapi.ImageSpec{Image: location}, nil
		restored := runContainer(t, d, newPod, newPodCfg, cfg)
		if n := counter(t, d, restored); n < before {
			t.Fatalf("restored counter is %d, below the %d it had before the checkpoint", n, before)
		}
		counterAdvances(t, d, restored, before)
	}
}

func firstCRIUError(out string) string {
	for _, line := range strings.Split(out, "\n") {
		if i := strings.Index(line, "Error ("); i >= 0 {
			return strings.TrimSpace(line[i:])
		}
	}
	return ""
}

func assertContainerArchive(t *testing.T, location string) {
	t.Helper()
	dir := t.TempDir()
	if err := checkpoint.ExtractArchive(location, dir); err != nil {
		t.Fatalf("unpack the archive: %v", err)
	}
	md, err := checkpoint.ReadMetadata(dir)
	if err != nil {
		t.Fatalf("read the archive: %v", err)
	}
	if md.Config.RootfsImageRef == "" || md.Spec.Process.Args[0] != "sh" {
		t.Errorf("archive metadata: %+v, process %q", md.Config, md.Spec.Process.Args)
	}
	for _, f := range []string{checkpoint.RootFsDiffTar, checkpoint.StatusDumpFile, "checkpoint/inventory.img"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("archive lacks %s", f)
		}
	}
}

// TestCheckpointContainerRefusesBadRequests: what CheckpointContainer says
// before it asks CRIU anything.
func TestCheckpointContainerRefusesBadRequests(t *testing.T) {
	d, busybox := startWithBusybox(t)
	podID, podCfg := runPod(t, d)
	created := createContainer(t, d, podID, podCfg, ctrConfig(busybox))
	running := runContainer(t, d, podID, podCfg, ctrConfig(busybox))
	out := t.TempDir()
	for _, tc := range []struct {
		name string
		req  *runtimeapi.CheckpointContainerRequest
		want codes.Code
	}{
		{"relative location", &runtimeapi.CheckpointContainerRequest{ContainerId: running, Location: "c.tar"}, codes.InvalidArgument},
		{"location in a missing directory", &runtimeapi.CheckpointContainerRequest{ContainerId: running, Location: filepath.Join(out, "no", "c.tar")}, codes.InvalidArgument},
		{"location is a directory", &runtimeapi.CheckpointContainerRequest{ContainerId: running, Location: out}, codes.InvalidArgument},
		{"negative timeout", &runtimeapi.CheckpointContainerRequest{ContainerId: running, Location: filepath.Join(out, "c.tar"), Timeout: -1}, codes.InvalidArgument},
		{"unknown container", &runtimeapi.CheckpointContainerRequest{ContainerId: "0123456789abcdef", Location: filepath.Join(out, "c.tar")}, codes.NotFound},
		{"created container", &runtimeapi.CheckpointContainerRequest{ContainerId: created, Location: filepath.Join(out, "c.tar")}, codes.FailedPrecondition},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := ctxTimeout(30 * time.Second)
			defer cancel()
			_, err := d.Runtime.CheckpointContainer(ctx, tc.req)
			if status.Code(err) != tc.want {
				t.Fatalf("CheckpointContainer = %v, want %s", err, tc.want)
			}
		})
	}
	emptyDirCheck(t, out, "refused checkpoints")
}

// writeTestArchive writes a checkpoint archive of the kind
// CheckpointContainer writes, without CRIU: its images are stand-ins, so
// only the checks before CRIU can pass on it.
func writeTestArchive(t *testing.T, dir, name string) string {
	t.Helper()
	src := t.TempDir()
	md := checkpoint.Metadata{
		Config: metadata.ContainerConfig{ID: "0123", Name: name, RootfsImageRef: busyboxRef},
		Spec:   &specs.Spec{Process: &specs.Process{Args: []string{"sh", "-c", counterScript}}},
	}
	if err := checkpoint.WriteMetadata(src, md); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(src, checkpoint.CheckpointDir), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, checkpoint.CheckpointDir, "inventory.img"), []byte("stand-in"), 0o600); err != nil {
		t.Fatal(err)
	}
	archive := filepath.Join(dir, name+".tar")
	if err := checkpoint.WriteArchive(src, archive); err != nil {
		t.Fatal(err)
	}
	return archive
}

// TestRestoreFromArchive: CreateContainer whose image is a checkpoint
// archive's path, as CRI-O reads it. A bad archive is refused as such;
// where CRIU cannot work a good one is FailedPrecondition; nothing is
// created either way.
func TestRestoreFromArchive(t *testing.T) {
	d, busybox := startWithBusybox(t)
	podID, podCfg := runPod(t, d)
	dir := t.TempDir()
	archive := writeTestArchive(t, dir, "counter")
	garbage := filepath.Join(dir, "garbage.tar")
	if err := os.WriteFile(garbage, []byte(strings.Repeat("not a tar ", 100)), 0o600); err != nil {
		t.Fatal(err)
	}
	works, _ := criuWorks(t)
	if works {
		// The stand-in images would make CRIU fail, which says nothing.
		t.Log("CRIU works on this node: only the refusals of bad archives are checked")
	}
	for _, tc := range []struct {
		name  string
		image string
		want  codes.Code
	}{
		{"missing archive", filepath.Join(dir, "missing.tar"), codes.NotFound},
		{"not an archive", garbage, codes.InvalidArgument},
		{"archive of another command", archive + "#sleep", codes.InvalidArgument},
		{"archive without CRIU", archive, codes.FailedPrecondition},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if works && tc.want == codes.FailedPrecondition {
				t.Skip("CRIU works here")
			}
			cfg := ctrConfig(busybox)
			cfg.Image, cfg.Command = &runtimeapi.ImageSpec{Image: tc.image}, nil
			if image, cmd, ok := strings.Cut(tc.image, "#"); ok {
				cfg.Image, cfg.Command = &runtimeapi.ImageSpec{Image: image}, []string{cmd}
			}
			ctx, cancel := ctxTimeout(30 * time.Second)
			defer cancel()
			_, err := d.Runtime.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{PodSandboxId: podID, Config: cfg, SandboxConfig: podCfg})
			if status.Code(err) != tc.want {
				t.Fatalf("CreateContainer from %s = %v, want %s", tc.image, err, tc.want)
			}
			list, err := d.Runtime.ListContainers(ctx, &runtimeapi.ListContainersRequest{Filter: &runtimeapi.ContainerFilter{PodSandboxId: podID}})
			if err != nil {
				t.Fatal(err)
			}
			if len(list.Containers) != 0 {
				t.Errorf("a refused restore left %d containers", len(list.Containers))
			}
		})
	}
}

// TestCheckpointAndRestorePodWithoutCRIU: the pod-level RPCs of cri-api
// v0.37 answer FailedPrecondition where CRIU cannot work, leave the
// output directory empty, keep the pod running, and make no sandbox.
func TestCheckpointAndRestorePodWithoutCRIU(t *testing.T) {
	if works, _ := criuWorks(t); works {
		t.Skip("CRIU works on this node")
	}
	d, busybox := startWithBusybox(t)
	podID, podCfg := runPod(t, d)
	id := runContainer(t, d, podID, podCfg, ctrConfig(busybox, withShell(counterScript)))
	before := counterAdvances(t, d, id, 0)

	out := t.TempDir()
	ctx, cancel := ctxTimeout(2 * time.Minute)
	defer cancel()
	_, err := d.Runtime.CheckpointPod(ctx, &runtimeapi.CheckpointPodRequest{PodSandboxId: podID, OutputPath: out, ContainerIds: []string{id}})
	if status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), "criu check") {
		t.Fatalf("CheckpointPod = %v, want FailedPrecondition naming CRIU's check", err)
	}
	emptyDirCheck(t, out, "a refused CheckpointPod")
	counterAdvances(t, d, id, before)

	// A pod checkpoint directory as CheckpointPod writes it.
	cp := t.TempDir()
	if err := os.Mkdir(filepath.Join(cp, "containers"), 0o700); err != nil {
		t.Fatal(err)
	}
	writeTestArchive(t, filepath.Join(cp, "containers"), "counter")
	if _, err := metadata.WriteJSONFile(metadata.CheckpointedPodOptions{Version: 1, Containers: map[string]string{"counter": "containers/counter.tar"}}, cp, metadata.PodOptionsFile); err != nil {
		t.Fatal(err)
	}
	if _, err := metadata.WriteJSONFile(podCfg, cp, metadata.PodDumpFile); err != nil {
		t.Fatal(err)
	}
	restoreCfg := podConfig()
	ctrCfg := ctrConfig(busybox, withShell(counterScript))
	ctrCfg.Metadata.Name = "counter"
	ctrCfg.Command = []string{"sleep", "1"}
	_, err = d.Runtime.RestorePod(ctx, &runtimeapi.RestorePodRequest{CheckpointPath: cp, Config: restoreCfg, ContainerConfigs: []*runtimeapi.ContainerConfig{ctrCfg}})
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "the checkpoint holds") {
		t.Fatalf("RestorePod of another command than the checkpoint's = %v, want InvalidArgument", err)
	}
	ctrCfg.Command = []string{"sh", "-c", counterScript}
	_, err = d.Runtime.RestorePod(ctx, &runtimeapi.RestorePodRequest{CheckpointPath: cp, Config: restoreCfg, ContainerConfigs: []*runtimeapi.ContainerConfig{ctrCfg}})
	if status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("RestorePod = %v, want FailedPrecondition", err)
	}
	ctrCfg.Metadata.Name = "other"
	_, err = d.Runtime.RestorePod(ctx, &runtimeapi.RestorePodRequest{CheckpointPath: cp, Config: restoreCfg, ContainerConfigs: []*runtimeapi.ContainerConfig{ctrCfg}})
	if status.Code(err) != codes.InvalidArgument {
		t.Fatalf("RestorePod with a container the checkpoint lacks = %v, want InvalidArgument", err)
	}
	list, err := d.Runtime.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != 1 {
		t.Errorf("%d sandboxes after refused restores, want only the original", len(list.Items))
	}
}
