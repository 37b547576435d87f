package cgroup

import (
	"testing"

	"github.com/containerd/errdefs"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

func TestResolve(t *testing.T) {
	for _, tc := range []struct {
		setting string
		init    bool
		want    Driver
	}{
		{"auto", true, Systemd},
		{"auto", false, Cgroupfs},
		{"systemd", false, Systemd},
		{"cgroupfs", true, Cgroupfs},
	} {
		if got := Resolve(tc.setting, tc.init); got != tc.want {
			t.Errorf("Resolve(%q, systemd init %v) = %v, want %v", tc.setting, tc.init, got, tc.want)
		}
	}
	if Systemd.CRI() != runtimeapi.CgroupDriver_SYSTEMD || Cgroupfs.CRI() != runtimeapi.CgroupDriver_CGROUPFS {
		t.Error("CRI() reports the wrong driver to kubelet")
	}
}

// TestPath: the cgroupsPath runc gets, and the directory the cgroup then
// has, which stats and OOM detection read.
func TestPath(t *testing.T) {
	for _, tc := range []struct {
		name    string
		driver  Driver
		parent  string
		want    string
		wantDir string
	}{
		{"cgroupfs under kubelet's pod cgroup", Cgroupfs, "/kubepods/burstable/pod1", "/kubepods/burstable/pod1/c1", "/kubepods/burstable/pod1/c1"},
		{"cgroupfs without a parent", Cgroupfs, "", "/berth/c1", "/berth/c1"},
		{"systemd, kubelet's full slice path", Systemd, "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1_2.slice",
			"kubepods-burstable-pod1_2.slice:berth:c1", "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1_2.slice/berth-c1.scope"},
		{"systemd, a bare slice name", Systemd, "kubepods-besteffort-pod9.slice",
			"kubepods-besteffort-pod9.slice:berth:c1", "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod9.slice/berth-c1.scope"},
		{"systemd, trailing slash", Systemd, "/kubepods.slice/", "kubepods.slice:berth:c1", "/kubepods.slice/berth-c1.scope"},
		{"systemd without a parent", Systemd, "", "system.slice:berth:c1", "/system.slice/berth-c1.scope"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.driver.Path(tc.parent, "c1")
			if err != nil || got != tc.want {
				t.Fatalf("Path(%q) = %q, %v; want %q", tc.parent, got, err, tc.want)
			}
			dir, err := Dir(got)
			if err != nil || dir != tc.wantDir {
				t.Errorf("Dir(%q) = %q, %v; want %q", got, dir, err, tc.wantDir)
			}
		})
	}
}

func TestPathRefusesAParentThatIsNoSlice(t *testing.T) {
	for _, parent := range []string{"/kubepods/burstable/pod1", "kubepods--a.slice", "-a.slice", ".slice"} {
		if got, err := Systemd.Path(parent, "c1"); !errdefs.IsInvalidArgument(err) {
			t.Errorf("Path(%q) with systemd = %q, %v; want InvalidArgument", parent, got, err)
		}
	}
}

func TestParentDir(t *testing.T) {
	for _, tc := range []struct {
		driver Driver
		parent string
		want   string
	}{
		{Cgroupfs, "/kubepods/pod1", "/kubepods/pod1"},
		{Systemd, "/kubepods.slice/kubepods-pod1.slice", "/kubepods.slice/kubepods-pod1.slice"},
		{Systemd, "kubepods-burstable-pod1.slice", "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1.slice"},
		{Systemd, "-.slice", "/"},
	} {
		if got, err := tc.driver.ParentDir(tc.parent); err != nil || got != tc.want {
			t.Errorf("%v ParentDir(%q) = %q, %v; want %q", tc.driver, tc.parent, got, err, tc.want)
		}
	}
}

func TestDirRefusesMalformedSystemdPaths(t *testing.T) {
	for _, p := range []string{"a.slice:berth", "a.slice:berth:", "a:berth:c1", "a.slice:b:c:d"} {
		if got, err := Dir(p); err == nil {
			t.Errorf("Dir(%q) = %q, want an error", p, got)
		}
	}
}

// TestCheckParent: a parent that climbs out of the hierarchy, or that the
// driver cannot place a scope under, is InvalidArgument before anything of
// the pod is made.
func TestCheckParent(t *testing.T) {
	for _, tc := range []struct {
		driver Driver
		parent string
		ok     bool
	}{
		{Cgroupfs, "", true},
		{Cgroupfs, "/kubepods/burstable/pod1", true},
		{Cgroupfs, "/kubepods//burstable/pod1/", true}, // runc cleans it
		{Cgroupfs, "kubepods/burstable/pod1", false},
		{Cgroupfs, "/kubepods/../../etc", false},
		{Cgroupfs, "/kubepods/..", false},
		{Cgroupfs, "/kubepods/a..b", true},
		{Cgroupfs, "/kube\x00pods", false},
		{Cgroupfs, "kubepods-burstable-pod1.slice", false},
		{Systemd, "", true},
		{Systemd, "kubepods-burstable-pod1.slice", true},
		{Systemd, "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1.slice", true},
		{Systemd, "../kubepods.slice", false},
		{Systemd, "/kubepods.slice/../../kubepods-burstable-pod1.slice", false},
		{Systemd, "kubepods", false},
		{Systemd, "/kubepods/burstable/pod1", false},
	} {
		err := tc.driver.CheckParent(tc.parent)
		if (err == nil) != tc.ok || (err != nil && !errdefs.IsInvalidArgument(err)) {
			t.Errorf("%s.CheckParent(%q) = %v, want ok=%v", tc.driver, tc.parent, err, tc.ok)
		}
	}
}
