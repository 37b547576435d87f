package main

import (
	"testing"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// A pod's slice is named as kubelet's systemd driver names it: a UID's
// dashes would make systemd nest the slice under others.
func TestWithSliceGivesThePodKubeletsSlice(t *testing.T) {
	for _, tc := range []struct{ uid, slice string }{
		{"bench-12-3", "kubepods-besteffort-podbench_12_3.slice"},
		{"0b5e3f2a-9c1d-4e6f-8a7b-2c3d4e5f6a7b", "kubepods-besteffort-pod0b5e3f2a_9c1d_4e6f_8a7b_2c3d4e5f6a7b.slice"},
	} {
		cfg := &runtimeapi.PodSandboxConfig{
			Metadata: &runtimeapi.PodSandboxMetadata{Uid: tc.uid},
			Linux:    &runtimeapi.LinuxPodSandboxConfig{},
		}
		if got := withSlice(cfg); got != tc.slice {
			t.Errorf("uid %s: slice %s, want %s", tc.uid, got, tc.slice)
		}
		if want := "/kubepods.slice/kubepods-besteffort.slice/" + tc.slice; cfg.Linux.CgroupParent != want {
			t.Errorf("uid %s: cgroup parent %s, want %s", tc.uid, cfg.Linux.CgroupParent, want)
		}
	}
}
