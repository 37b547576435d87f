package sandbox

import (
	"context"
	"fmt"
	"math"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/containers"
	"github.com/containerd/containerd/v2/core/snapshots"
	"github.com/containerd/containerd/v2/pkg/oci"
	"github.com/containerd/errdefs"
	"github.com/opencontainers/runtime-spec/specs-go"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// IDMappings are a pod's user namespace mappings: one range of UIDs and one
// of GIDs, each starting at container ID 0. Empty means the pod uses the
// node's user namespace.
type IDMappings struct {
	UIDs, GIDs []specs.LinuxIDMapping
}

// Enabled reports whether the pod has a user namespace of its own.
func (m IDMappings) Enabled() bool { return len(m.UIDs) > 0 }

// UserNamespace checks the CRI user namespace option and returns its
// mappings. The pause container creates the namespace and every container
// of the pod joins it, so the only modes are POD (with exactly one UID and
// one GID mapping, as kubelet sends) and NODE (none). One mapping is what
// the snapshotter's idmapped layers take; container ID 0 must be in it, or
// the image's root-owned files and the pod's root would have no ID at all.
func UserNamespace(opt *runtimeapi.UserNamespace) (IDMappings, error) {
	if opt == nil {
		return IDMappings{}, nil // a kubelet that does not know user namespaces
	}
	switch mode := opt.GetMode(); mode {
	case runtimeapi.NamespaceMode_NODE:
		if len(opt.GetUids()) > 0 || len(opt.GetGids()) > 0 {
			return IDMappings{}, fmt.Errorf("user namespace mode NODE takes no mappings (got %d UID and %d GID mappings): %w", len(opt.GetUids()), len(opt.GetGids()), errdefs.ErrInvalidArgument)
		}
		return IDMappings{}, nil
	case runtimeapi.NamespaceMode_POD:
		uids, err := idMapping("UID", opt.GetUids())
		if err != nil {
			return IDMappings{}, err
		}
		gids, err := idMapping("GID", opt.GetGids())
		if err != nil {
			return IDMappings{}, err
		}
		return IDMappings{UIDs: uids, GIDs: gids}, nil
	default:
		return IDMappings{}, fmt.Errorf("user namespace mode %s is not supported: a pod's containers share the pod's user namespace (POD) or use the node's (NODE): %w", mode, errdefs.ErrInvalidArgument)
	}
}

func idMapping(kind string, ms []*runtimeapi.IDMapping) ([]specs.LinuxIDMapping, error) {
	if len(ms) != 1 || ms[0] == nil {
		return nil, fmt.Errorf("user namespace mode POD needs exactly one %s mapping, got %d: %w", kind, len(ms), errdefs.ErrInvalidArgument)
	}
	m := ms[0]
	switch {
	case m.GetContainerId() != 0:
		return nil, fmt.Errorf("%s mapping %d:%d:%d does not map container ID 0: %w", kind, m.GetContainerId(), m.GetHostId(), m.GetLength(), errdefs.ErrInvalidArgument)
	case m.GetLength() == 0:
		return nil, fmt.Errorf("%s mapping %d:%d:%d is empty: %w", kind, m.GetContainerId(), m.GetHostId(), m.GetLength(), errdefs.ErrInvalidArgument)
	case uint64(m.GetHostId())+uint64(m.GetLength()) > math.MaxUint32:
		// The kernel refuses ranges that reach ID 4294967295 (-1).
		return nil, fmt.Errorf("%s mapping %d:%d:%d goes past the last host ID: %w", kind, m.GetContainerId(), m.GetHostId(), m.GetLength(), errdefs.ErrInvalidArgument)
	}
	return []specs.LinuxIDMapping{{ContainerID: 0, HostID: m.GetHostId(), Size: m.GetLength()}}, nil
}

// validateUserNamespace checks a pod's user namespace against its other
// namespaces: a pod in its own user namespace cannot share the node's
// network, PID or IPC namespace (kubelet refuses hostUsers: false with
// them too), as those are owned by the node's user namespace and the pod's
// root could not mount sysfs, proc or mqueue for them.
func validateUserNamespace(cfg *runtimeapi.PodSandboxConfig) error {
	ns := cfg.GetLinux().GetSecurityContext().GetNamespaceOptions()
	ids, err := UserNamespace(ns.GetUsernsOptions())
	if err != nil || !ids.Enabled() {
		return err
	}
	for _, n := range []struct {
		name string
		mode runtimeapi.NamespaceMode
	}{{"network", ns.GetNetwork()}, {"PID", ns.GetPid()}, {"IPC", ns.GetIpc()}} {
		if n.mode == runtimeapi.NamespaceMode_NODE {
			return fmt.Errorf("a pod with its own user namespace cannot use the node's %s namespace: %w", n.name, errdefs.ErrInvalidArgument)
		}
	}
	return nil
}

// IDMappings returns the sandbox's user namespace mappings, validated when
// it was created.
func (m *Metadata) IDMappings() IDMappings {
	ids, _ := UserNamespace(m.Config.GetLinux().GetSecurityContext().GetNamespaceOptions().GetUsernsOptions())
	return ids
}

// RemapSnapshotOpts label a rootfs snapshot with the pod's mappings, so the
// overlayfs snapshotter mounts the image's layers idmapped (Linux 5.19):
// a file the image gives to root shows as owned by the pod's root, without
// copying or chowning a layer.
func RemapSnapshotOpts(ids IDMappings) []snapshots.Opt {
	if !ids.Enabled() {
		return nil
	}
	return []snapshots.Opt{containerd.WithUserNSRemapperLabels(ids.UIDs, ids.GIDs)}
}

// withUserNamespace puts the pause process into the pinned user namespace.
// The mappings are given too: runc checks them against the namespace's, and
// uses them for the rootfs.
func withUserNamespace(md *Metadata) oci.SpecOpts {
	ids := md.IDMappings()
	if !ids.Enabled() {
		return func(context.Context, oci.Client, *containers.Container, *oci.Spec) error { return nil }
	}
	return oci.Compose(
		oci.WithLinuxNamespace(specs.LinuxNamespace{Type: specs.UserNamespace, Path: md.UserNSPath}),
		oci.WithUserNamespace(ids.UIDs, ids.GIDs),
	)
}

// WithoutDefaultRlimits drops the rlimits of containerd's default spec
// (RLIMIT_NOFILE 1024, soft and hard), as containerd's CRI does
// (containerd/cri#515): a hard limit of 1024 descriptors breaks servers and
// databases, and no container could raise it. Processes keep the limits
// they inherit through the shim from berthd (the unit's LimitNOFILE). It
// also spares runc a prlimit(2), which the kernel refuses for a pod's root
// in a user namespace (an unprivileged node UID) unless berthd holds
// CAP_SYS_RESOURCE.
func WithoutDefaultRlimits(_ context.Context, _ oci.Client, _ *containers.Container, s *oci.Spec) error {
	if s.Process != nil {
		s.Process.Rlimits = nil
	}
	return nil
}
