package container

import (
	"path/filepath"

	"github.com/containerd/containerd/v2/pkg/oci"
	"github.com/opencontainers/runtime-spec/specs-go"
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
	// In a pod with its own user namespace, the pod's files are idmapped so
	// that its root owns them, as root does elsewhere; the shm tmpfs is
	// world-writable and needs no mapping.
	uids, gids := criIDMappings(sb.IDMappings())
	return []*runtimeapi.Mount{
		{ContainerPath: "/etc/hostname", HostPath: filepath.Join(sb.Dir, sandbox.HostnameFile), Readonly: readonly, UidMappings: uids, GidMappings: gids},
		{ContainerPath: "/etc/hosts", HostPath: filepath.Join(sb.Dir, sandbox.HostsFile), Readonly: readonly, UidMappings: uids, GidMappings: gids},
		{ContainerPath: "/etc/resolv.conf", HostPath: filepath.Join(sb.Dir, sandbox.ResolvFile), Readonly: readonly, UidMappings: uids, GidMappings: gids},
		{ContainerPath: "/dev/shm", HostPath: shm},
	}
}

func criIDMappings(ids sandbox.IDMappings) (uids, gids []*runtimeapi.IDMapping) {
	conv := func(ms []specs.LinuxIDMapping) []*runtimeapi.IDMapping {
		var out []*runtimeapi.IDMapping
		for _, m := range ms {
			out = append(out, &runtimeapi.IDMapping{ContainerId: m.ContainerID, HostId: m.HostID, Length: m.Size})
		}
		return out
	}
	return conv(ids.UIDs), conv(ids.GIDs)
}
