package container

import (
	"fmt"
	"slices"

	"github.com/containerd/errdefs"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/berth-cri/berth/sandbox"
)

// userNamespace returns the user namespace mappings of a container in sb:
// always the pod's, which owns the network, IPC and UTS namespaces the
// container joins. A config that says nothing gets the pod's; one that
// names other mappings, or another mode, is refused rather than ignored.
func userNamespace(sb *sandbox.Sandbox, cfg *runtimeapi.ContainerConfig) (sandbox.IDMappings, error) {
	pod := sb.IDMappings()
	opt := cfg.GetLinux().GetSecurityContext().GetNamespaceOptions().GetUsernsOptions()
	if opt == nil {
		return pod, nil
	}
	ids, err := sandbox.UserNamespace(opt)
	if err != nil {
		return sandbox.IDMappings{}, err
	}
	if !slices.Equal(ids.UIDs, pod.UIDs) || !slices.Equal(ids.GIDs, pod.GIDs) {
		return sandbox.IDMappings{}, fmt.Errorf("container user namespace (%s, UIDs %v, GIDs %v) differs from its pod's (UIDs %v, GIDs %v): a pod's containers share its user namespace: %w",
			opt.GetMode(), ids.UIDs, ids.GIDs, pod.UIDs, pod.GIDs, errdefs.ErrInvalidArgument)
	}
	return ids, nil
}
