package container

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/berth-cri/berth/internal/host"
)

func TestProcessArgs(t *testing.T) {
	img := ocispec.ImageConfig{Entrypoint: []string{"/entry"}, Cmd: []string{"default"}}
	for _, tc := range []struct {
		name      string
		cmd, args []string
		img       ocispec.ImageConfig
		want      []string
	}{
		{"image only", nil, nil, img, []string{"/entry", "default"}},
		{"args replace cmd", nil, []string{"a"}, img, []string{"/entry", "a"}},
		{"command replaces both", []string{"/bin/x"}, nil, img, []string{"/bin/x"}},
		{"command and args", []string{"/bin/x"}, []string{"a", "b"}, img, []string{"/bin/x", "a", "b"}},
		{"cmd only image", nil, nil, ocispec.ImageConfig{Cmd: []string{"sh"}}, []string{"sh"}},
	} {
		got, err := processArgs(&runtimeapi.ContainerConfig{Command: tc.cmd, Args: tc.args}, tc.img)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("%s: %q, %v; want %q", tc.name, got, err, tc.want)
		}
	}
	if _, err := processArgs(&runtimeapi.ContainerConfig{}, ocispec.ImageConfig{}); !errdefs.IsInvalidArgument(err) {
		t.Errorf("nothing to run: %v, want InvalidArgument", err)
	}
}

func TestCapNames(t *testing.T) {
	got := capNames([]string{"net_raw", "CAP_SYS_ADMIN", "ALL", "chown"})
	want := []string{"CAP_NET_RAW", "CAP_SYS_ADMIN", "CAP_CHOWN"}
	if !slices.Equal(got, want) {
		t.Errorf("capNames = %q, want %q", got, want)
	}
	if !hasAll([]string{"x", "all"}) || hasAll([]string{"x"}) {
		t.Error("hasAll")
	}
}

func TestLinuxResources(t *testing.T) {
	r := &runtimeapi.LinuxContainerResources{
		CpuShares: 512, CpuQuota: 20000, CpuPeriod: 100000, MemoryLimitInBytes: 1 << 20,
		MemorySwapLimitInBytes: 1 << 20, CpusetCpus: "0", Unified: map[string]string{"memory.high": "1"},
		HugepageLimits: []*runtimeapi.HugepageLimit{{PageSize: "2MB", Limit: 4 << 20}},
	}
	v1 := linuxResources(r, host.Facts{Hugetlb: true})
	if *v1.CPU.Shares != 512 || *v1.CPU.Quota != 20000 || *v1.CPU.Period != 100000 || *v1.Memory.Limit != 1<<20 || v1.CPU.Cpus != "0" {
		t.Errorf("v1 resources = %+v %+v", v1.CPU, v1.Memory)
	}
	if v1.Memory.Swap != nil || v1.Unified != nil {
		t.Error("swap without swap accounting, or unified on cgroup v1, would make runc fail")
	}
	if len(v1.HugepageLimits) != 1 || v1.HugepageLimits[0].Pagesize != "2MB" {
		t.Errorf("hugepages = %+v", v1.HugepageLimits)
	}
	v2 := linuxResources(r, host.Facts{CgroupV2: true, Swap: true})
	if v2.Memory.Swap == nil || v2.Unified["memory.high"] != "1" {
		t.Errorf("v2 resources lack swap or unified")
	}
	empty := linuxResources(&runtimeapi.LinuxContainerResources{}, host.Facts{})
	if empty.CPU.Shares != nil || empty.CPU.Quota != nil || empty.Memory.Limit != nil {
		t.Error("zero CRI values must stay unset")
	}
}

func TestMergeResources(t *testing.T) {
	old := &runtimeapi.LinuxContainerResources{CpuShares: 512, CpuQuota: 1000, MemoryLimitInBytes: 100}
	got := mergeResources(old, &runtimeapi.LinuxContainerResources{CpuQuota: 2000})
	if got.CpuShares != 512 || got.CpuQuota != 2000 || got.MemoryLimitInBytes != 100 {
		t.Errorf("merged = %v", got)
	}
	if old.CpuQuota != 1000 {
		t.Error("merge changed the old resources")
	}
	if got := mergeResources(nil, &runtimeapi.LinuxContainerResources{CpuShares: 2}); got.CpuShares != 2 {
		t.Errorf("merge onto nothing = %v", got)
	}
}

func TestBindMount(t *testing.T) {
	dir := t.TempDir()
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(dir, link); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "a", "b")
	for _, tc := range []struct {
		name     string
		m        *runtimeapi.Mount
		opts     string
		rootProp string
		src      string
	}{
		{"private rw", &runtimeapi.Mount{ContainerPath: "/d", HostPath: dir}, "rbind,rprivate,rw", "", dir},
		{"readonly", &runtimeapi.Mount{ContainerPath: "/d", HostPath: dir, Readonly: true}, "rbind,rprivate,ro", "", dir},
		{"recursive readonly", &runtimeapi.Mount{ContainerPath: "/d", HostPath: dir, Readonly: true, RecursiveReadOnly: true}, "rbind,rprivate,rro", "", dir},
		{"host to container", &runtimeapi.Mount{ContainerPath: "/d", HostPath: dir, Propagation: runtimeapi.MountPropagation_PROPAGATION_HOST_TO_CONTAINER}, "rbind,rslave,rw", "rslave", dir},
		{"bidirectional", &runtimeapi.Mount{ContainerPath: "/d", HostPath: dir, Propagation: runtimeapi.MountPropagation_PROPAGATION_BIDIRECTIONAL}, "rbind,rshared,rw", "rshared", dir},
		{"symlink resolved", &runtimeapi.Mount{ContainerPath: "/d", HostPath: link}, "rbind,rprivate,rw", "", dir},
		{"missing source created", &runtimeapi.Mount{ContainerPath: "/d", HostPath: missing}, "rbind,rprivate,rw", "", missing},
	} {
		mnt, prop, err := bindMount(tc.m, ensureHostPath)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if got := strings.Join(mnt.Options, ","); got != tc.opts || prop != tc.rootProp || mnt.Source != tc.src || mnt.Type != "bind" {
			t.Errorf("%s: %s %s %q root %q; want %s %q root %q", tc.name, mnt.Type, mnt.Source, got, prop, tc.src, tc.opts, tc.rootProp)
		}
	}
	if _, _, err := bindMount(&runtimeapi.Mount{ContainerPath: "rel", HostPath: dir}, ensureHostPath); !errdefs.IsInvalidArgument(err) {
		t.Errorf("relative destination: %v", err)
	}
	// A relative source would be created in berthd's working directory.
	t.Chdir(t.TempDir())
	if _, _, err := bindMount(&runtimeapi.Mount{ContainerPath: "/d", HostPath: "rel/src"}, ensureHostPath); !errdefs.IsInvalidArgument(err) {
		t.Errorf("relative source: %v", err)
	}
	if _, err := os.Stat("rel"); !os.IsNotExist(err) {
		t.Errorf("a relative source was created in the working directory: %v", err)
	}
	if _, _, err := bindMount(&runtimeapi.Mount{ContainerPath: "/d", HostPath: dir, Readonly: true, RecursiveReadOnly: true, Propagation: runtimeapi.MountPropagation_PROPAGATION_HOST_TO_CONTAINER}, ensureHostPath); !errdefs.IsInvalidArgument(err) {
		t.Errorf("recursive read-only with rslave propagation: %v", err)
	}
	if _, _, err := bindMount(&runtimeapi.Mount{ContainerPath: "/d", HostPath: dir, RecursiveReadOnly: true}, ensureHostPath); !errdefs.IsInvalidArgument(err) {
		t.Errorf("recursive read-only without read-only: %v", err)
	}
}

func TestStopSignal(t *testing.T) {
	for _, tc := range []struct {
		cfg   runtimeapi.Signal
		image string
		want  string
	}{
		{runtimeapi.Signal_SIGNAL_RUNTIME_DEFAULT, "", "SIGTERM"},
		{runtimeapi.Signal_SIGNAL_RUNTIME_DEFAULT, "SIGQUIT", "SIGQUIT"},
		{runtimeapi.Signal_SIGNAL_SIGUSR1, "SIGQUIT", "SIGUSR1"},
	} {
		if got := stopSignal(&runtimeapi.ContainerConfig{StopSignal: tc.cfg}, tc.image); got != tc.want {
			t.Errorf("stopSignal(%v, %q) = %q, want %q", tc.cfg, tc.image, got, tc.want)
		}
	}
}

func TestHugepageLimitsOnlyWithTheHugetlbController(t *testing.T) {
	// kubelet sends a limit for every page size on every container.
	r := &runtimeapi.LinuxContainerResources{HugepageLimits: []*runtimeapi.HugepageLimit{{PageSize: "2MB", Limit: 0}}}
	if got := linuxResources(r, host.Facts{}).HugepageLimits; len(got) != 0 {
		t.Fatalf("without a hugetlb cgroup runc refuses hugepage limits, yet the spec has %v", got)
	}
	if got := linuxResources(r, host.Facts{Hugetlb: true}).HugepageLimits; len(got) != 1 || got[0].Pagesize != "2MB" {
		t.Fatalf("with the hugetlb controller the limits must stay: %v", got)
	}
}
