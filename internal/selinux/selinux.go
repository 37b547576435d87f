package selinux

import (
	"fmt"
	"strings"

	"github.com/containerd/containerd/v2/pkg/oci"
	"github.com/containerd/errdefs"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Defaults for the fields of a label the pod leaves empty.
const (
	defaultUser  = "system_u"
	defaultRole  = "system_r"
	defaultType  = "container_t"
	defaultLevel = "s0"
)

// Label is the process label for opts, or "" when none applies: SELinux
// is not enforcing, or the pod gave no options.
func Label(opts *runtimeapi.SELinuxOption, enforcing bool) (string, error) {
	if !enforcing || opts == nil || (opts.GetUser() == "" && opts.GetRole() == "" && opts.GetType() == "" && opts.GetLevel() == "") {
		return "", nil
	}
	parts := []string{opts.GetUser(), opts.GetRole(), opts.GetType(), opts.GetLevel()}
	for i, def := range []string{defaultUser, defaultRole, defaultType, defaultLevel} {
		if parts[i] == "" {
			parts[i] = def
		}
		// The level may hold ':' (s0:c1,c2); the other fields may not.
		if (i < 3 && strings.Contains(parts[i], ":")) || strings.ContainsAny(parts[i], " \n\x00") {
			return "", fmt.Errorf("SELinux option %q is malformed: %w", parts[i], errdefs.ErrInvalidArgument)
		}
	}
	return strings.Join(parts, ":"), nil
}

// ContainerOpts returns the option setting the container's process label
// on an enforcing host; otherwise an option that changes nothing.
func ContainerOpts(sc *runtimeapi.LinuxContainerSecurityContext, enforcing bool) (oci.SpecOpts, error) {
	if sc.GetPrivileged() {
		// A privileged container runs with berthd's own label, as
		// containerd's do.
		return oci.WithSelinuxLabel(""), nil
	}
	label, err := Label(sc.GetSelinuxOptions(), enforcing)
	if err != nil {
		return nil, err
	}
	return oci.WithSelinuxLabel(label), nil
}
