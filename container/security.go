package container

import (
	"github.com/containerd/containerd/v2/pkg/oci"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/berth-cri/berth/apparmor"
	"github.com/berth-cri/berth/internal/selinux"
	"github.com/berth-cri/berth/seccomp"
)

// Security is how this node confines containers beyond capabilities:
// seccomp, AppArmor and SELinux (docs/security.md).
type Security struct {
	Seccomp seccomp.Resolver
	// AppArmor nil detects the kernel's on each use.
	AppArmor *apparmor.Host
	// SELinuxEnforcing passes the pods' SELinux options through.
	SELinuxEnforcing bool
}

// unprivilegedOpts confine a container that is not privileged: its
// capabilities, and exactly the masked and read-only paths kubelet sends,
// none when it sends none, as containerd does. kubelet sends its defaults
// for procMount Default and no paths at all for procMount Unmasked, which
// a default list here would silently undo.
func unprivilegedOpts(sc *runtimeapi.LinuxContainerSecurityContext) []oci.SpecOpts {
	return append(capabilityOpts(sc.GetCapabilities()),
		oci.WithMaskedPaths(sc.GetMaskedPaths()), oci.WithReadonlyPaths(sc.GetReadonlyPaths()))
}

// securityOpts are the seccomp, AppArmor and SELinux options of a
// container. They go last: the default seccomp profile depends on the
// capabilities set before it, and privileged options clear all three.
func securityOpts(sec Security, sc *runtimeapi.LinuxContainerSecurityContext) ([]oci.SpecOpts, error) {
	seccompOpt, err := sec.Seccomp.ContainerOpts(sc)
	if err != nil {
		return nil, err
	}
	apparmorOpt, err := sec.AppArmor.ContainerOpts(sc)
	if err != nil {
		return nil, err
	}
	selinuxOpt, err := selinux.ContainerOpts(sc, sec.SELinuxEnforcing)
	if err != nil {
		return nil, err
	}
	return []oci.SpecOpts{seccompOpt, apparmorOpt, selinuxOpt}, nil
}
