package main

import (
	"context"
	"fmt"
	"os/exec"
	"strings"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// With --pod-slices every pod gets the cgroup parent kubelet's systemd
// cgroup driver gives a best-effort pod, and the slice exists before
// RunPodSandbox and goes after RemovePodSandbox, as kubelet makes and
// removes it around the pod. Neither is timed. A runtime using the
// systemd cgroup driver wants a slice as the parent: containerd's CRI
// builds runc's systemd form, "slice:cri-containerd:id", only from one.

// besteffortSlices is the parent of every best-effort pod's slice.
const besteffortSlices = "/kubepods.slice/kubepods-besteffort.slice/"

// podSlice is the name of the slice of the pod with this UID, as kubelet
// names it: the UID's dashes, which systemd reads as nesting, become
// underscores.
func podSlice(uid string) string {
	return "kubepods-besteffort-pod" + strings.ReplaceAll(uid, "-", "_") + ".slice"
}

// withSlice sets cfg's cgroup parent to its pod's slice, as kubelet sends
// it (the slice's path), and returns the slice's name.
func withSlice(cfg *runtimeapi.PodSandboxConfig) string {
	slice := podSlice(cfg.GetMetadata().GetUid())
	cfg.Linux.CgroupParent = besteffortSlices + slice
	return slice
}

// systemctl runs systemctl verb on the slices in one call; systemd makes
// a slice's parents with it.
func systemctl(ctx context.Context, verb string, slices []string) error {
	if len(slices) == 0 {
		return nil
	}
	out, err := exec.CommandContext(ctx, "systemctl", append([]string{verb}, slices...)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("systemctl %s %s: %w: %s", verb, strings.Join(slices, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}
