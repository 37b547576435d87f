package container

import (
	"path/filepath"

	"github.com/containerd/containerd/v2/pkg/oci"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/berth-cri/berth/sandbox"
)

// privilegedOpts give a privileged container every capability, every
// host device, and no masked or read-only paths.
func privilegedOpts() []oci.SpecOpts {
	return []oci.SpecOpts{oci.WithPrivileged, oci.WithAllDevicesAllowed, oci.WithHostDevices}
}

// withDevice maps a host device into the container and allows it in the
// device cgroup.
func withDevice(hostPath, containerPath, perms string) oci.SpecOpts {
	return oci.WithDevices(hostPath, containerPath, perms)
}

// withAllCapabilities grants every capability berthd holds itself.
var withAllCapabilities oci.SpecOpts = oci.WithAllCurrentCapabilities

// sandboxMounts are the pod's files every container gets, unless a CRI
// mount (kubelet's own /etc/hosts, say) takes the destination.
func sandboxMounts(sb *sandbox.Sandbox, readonly bool) []*runtimeapi.Mount {
	shm := sb.ShmPath
	if shm == "" {
		shm = "/dev/shm" // host IPC: the host's
	}
	return []*runtimeapi.Mount{
		{ContainerPath: "/etc/hostname", HostPath: filepath.Join(sb.Dir, sandbox.HostnameFile), Readonly: readonly},
		{ContainerPath: "/etc/hosts", HostPath: filepath.Join(sb.Dir, sandbox.HostsFile), Readonly: readonly},
		{ContainerPath: "/etc/resolv.conf", HostPath: filepath.Join(sb.Dir, sandbox.ResolvFile), Readonly: readonly},
		{ContainerPath: "/dev/shm", HostPath: shm},
	}
}
