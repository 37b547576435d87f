package container

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metadata "github.com/checkpoint-restore/checkpointctl/lib"
	"github.com/containerd/errdefs"
	"google.golang.org/protobuf/proto"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/berth-cri/berth/internal/host"
)

// FuzzUpdateContainerResources feeds arbitrary resource updates over
// arbitrary current resources through what UpdateContainerResources
// computes before it reaches containerd: the merge and the OCI resources.
// Nothing may panic, and a field the update leaves unset keeps its value.
func FuzzUpdateContainerResources(f *testing.F) {
	for _, pair := range [][2]*runtimeapi.LinuxContainerResources{
		{{CpuShares: 512, MemoryLimitInBytes: 1 << 26}, {CpuQuota: 20000, CpuPeriod: 100000}},
		{nil, {MemoryLimitInBytes: 1 << 30, HugepageLimits: []*runtimeapi.HugepageLimit{{PageSize: "2MB", Limit: 1 << 21}}, Unified: map[string]string{"memory.high": "max"}}},
		{{CpusetCpus: "0-1", OomScoreAdj: 1000}, {CpusetMems: "0", MemorySwapLimitInBytes: -1}},
	} {
		var old, upd []byte
		if pair[0] != nil {
			old, _ = proto.Marshal(pair[0])
		}
		upd, _ = proto.Marshal(pair[1])
		f.Add(old, upd)
	}
	f.Fuzz(func(t *testing.T, oldData, updData []byte) {
		old, upd := &runtimeapi.LinuxContainerResources{}, &runtimeapi.LinuxContainerResources{}
		if proto.Unmarshal(oldData, old) != nil || proto.Unmarshal(updData, upd) != nil {
			return
		}
		merged := mergeResources(old, upd)
		if upd.CpuShares == 0 && merged.CpuShares != old.CpuShares ||
			upd.MemoryLimitInBytes == 0 && merged.MemoryLimitInBytes != old.MemoryLimitInBytes ||
			upd.CpusetCpus == "" && merged.CpusetCpus != old.CpusetCpus {
			t.Fatalf("an unset field changed: old %v, update %v, merged %v", old, upd, merged)
		}
		if upd.CpuQuota != 0 && merged.CpuQuota != upd.CpuQuota {
			t.Fatalf("a set field was not applied: update %v, merged %v", upd, merged)
		}
		for _, h := range []host.Facts{{}, {CgroupV2: true, Swap: true, Hugetlb: true}} {
			if res := linuxResources(merged, h); res == nil || res.CPU == nil || res.Memory == nil {
				t.Fatalf("no CPU or memory resources for %v", merged)
			}
		}
	})
}

// FuzzPodCheckpointRequest feeds arbitrary CheckpointPod requests to its
// validation, on a node where CRIU cannot work. Nothing may panic, every
// refusal has a class kubelet can act on, and the output directory is
// left as it was given.
func FuzzPodCheckpointRequest(f *testing.F) {
	for _, r := range []*runtimeapi.CheckpointPodRequest{
		{PodSandboxId: "ready-sandbox", ContainerIds: []string{"pod-running"}},
		{PodSandboxId: "ready", ContainerIds: []string{"pod-running", "pod-running"}, Options: map[string]string{"leave-running": "true"}},
		{PodSandboxId: "stopped-sandbox", ContainerIds: []string{"running", "pod-climbing"}, OutputPath: "../x"},
	} {
		data, _ := proto.Marshal(r)
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r := &runtimeapi.CheckpointPodRequest{}
		if proto.Unmarshal(data, r) != nil {
			return
		}
		m := checkpointManager(t, &fakeCRIU{err: errNoCRIU})
		m.store.add(newContainer(Metadata{ID: "pod-running", SandboxID: "ready-sandbox",
			Config: &runtimeapi.ContainerConfig{Metadata: &runtimeapi.ContainerMetadata{Name: "app"}}}, Status{State: runtimeapi.ContainerState_CONTAINER_RUNNING}))
		m.store.add(newContainer(Metadata{ID: "pod-climbing", SandboxID: "ready-sandbox",
			Config: &runtimeapi.ContainerConfig{Metadata: &runtimeapi.ContainerMetadata{Name: "../../x"}}}, Status{State: runtimeapi.ContainerState_CONTAINER_RUNNING}))
		out := t.TempDir()
		path := out
		if filepath.IsLocal(r.OutputPath) {
			path = filepath.Join(out, r.OutputPath) // never outside the test's own directory
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		err := m.CheckpointPod(ctx, PodCheckpointOptions{SandboxID: r.PodSandboxId, OutputPath: path, ContainerIDs: r.ContainerIds, Options: r.Options})
		if err == nil {
			t.Fatal("CheckpointPod succeeded where CRIU cannot work")
		}
		if !errdefs.IsInvalidArgument(err) && !errdefs.IsNotFound(err) && !errdefs.IsFailedPrecondition(err) {
			t.Fatalf("CheckpointPod = %v: no class kubelet can act on", err)
		}
		if entries, _ := os.ReadDir(out); len(entries) != 0 && path == out {
			t.Fatalf("a refused CheckpointPod left %v", entries)
		}
	})
}

// FuzzPodCheckpointFiles feeds arbitrary pod.options and pod.dump files,
// and RestorePod requests, to what RestorePod reads before it makes
// anything. Nothing may panic, a refusal is InvalidArgument, and no
// container archive is looked for outside the checkpoint.
func FuzzPodCheckpointFiles(f *testing.F) {
	f.Add([]byte(`{"version":1,"containers":{"app":"containers/app.tar"}}`), []byte(`{"metadata":{"name":"web"}}`), []byte(nil))
	f.Add([]byte(`{"version":1,"containers":{"x":"../../etc/shadow"}}`), []byte(`{}`), []byte(nil))
	f.Add([]byte(`{"version":2,"containers":{}}`), []byte(`[`), []byte(nil))
	dir := f.TempDir() // one per fuzzing process, rewritten each run: a new one each run is slow
	f.Fuzz(func(t *testing.T, options, dump, request []byte) {
		if err := os.WriteFile(filepath.Join(dir, metadata.PodOptionsFile), options, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, metadata.PodDumpFile), dump, 0o600); err != nil {
			t.Fatal(err)
		}
		pc, err := ReadPodCheckpoint(dir)
		if err != nil {
			if !errdefs.IsInvalidArgument(err) {
				t.Fatalf("ReadPodCheckpoint = %v, want InvalidArgument", err)
			}
			return
		}
		for name, archive := range pc.Archives {
			if !strings.HasPrefix(archive, dir+string(filepath.Separator)) {
				t.Fatalf("container %q's archive %q is outside the checkpoint %s", name, archive, dir)
			}
		}
		r := &runtimeapi.RestorePodRequest{}
		if proto.Unmarshal(request, r) != nil {
			return
		}
		if err := MatchPodCheckpoint(pc, r.GetContainerConfigs()); err != nil && !errdefs.IsInvalidArgument(err) {
			t.Fatalf("MatchPodCheckpoint = %v, want InvalidArgument", err)
		}
		if err := RefuseOptions(r.GetOptions()); err != nil && !errdefs.IsInvalidArgument(err) {
			t.Fatalf("RefuseOptions = %v, want InvalidArgument", err)
		}
	})
}
