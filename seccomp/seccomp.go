package seccomp

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/containerd/containerd/v2/pkg/oci"
	"github.com/containerd/errdefs"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// maxProfileSize bounds a Localhost profile: Docker's default profile is
// about 20 KiB, so anything near this is not a seccomp profile.
const maxProfileSize = 1 << 20

// Resolver turns a container's seccomp request into a spec option.
type Resolver struct {
	// Root is the only directory Localhost profiles are read from
	// (kubelet's <root-dir>/seccomp). Empty refuses every Localhost
	// profile.
	Root string
	// Default is what a container that asks for nothing (no profile and no
	// deprecated path) gets, unless privileged: Unconfined, Kubernetes'
	// meaning of unset, or RuntimeDefault, as CRI-O does. kubelet itself
	// sends Unconfined for a pod that sets nothing, unless its
	// SeccompDefault is on.
	Default Kind
}

// asksForNothing is a container with no seccomp request at all.
func asksForNothing(sc *runtimeapi.LinuxContainerSecurityContext) bool {
	//nolint:staticcheck // The deprecated path still arrives from older kubelets and crictl.
	return sc.GetSeccomp() == nil && sc.GetSeccompProfilePath() == ""
}

// ContainerOpts returns the option that sets (or clears) the container's
// seccomp filter. A Localhost profile is read and checked here, so that a
// bad one fails CreateContainer with InvalidArgument naming the file.
// Apply the option after the capability options.
func (r Resolver) ContainerOpts(sc *runtimeapi.LinuxContainerSecurityContext) (oci.SpecOpts, error) {
	//nolint:staticcheck // The deprecated path still arrives from older kubelets and crictl.
	p, err := Resolve(sc.GetSeccomp(), sc.GetSeccompProfilePath(), sc.GetPrivileged())
	if err != nil {
		return nil, err
	}
	if r.Default == RuntimeDefault && asksForNothing(sc) && !sc.GetPrivileged() {
		p.Kind = RuntimeDefault
	}
	switch p.Kind {
	case RuntimeDefault:
		return withDefaultProfile, nil
	case Localhost:
		body, err := r.read(p.Path)
		if err != nil {
			return nil, err
		}
		return withProfile(p.Path, body), nil
	default:
		return oci.WithSeccompUnconfined, nil
	}
}

// SandboxOpts is the pause container's seccomp: never unconfined, and never
// less than the pod asks for. pause runs with no capabilities, and only
// waits for signals and reaps children.
//
//   - A pod that asks for RuntimeDefault or a Localhost profile: the
//     default profile as it stands for a process without capabilities, for
//     the native architecture only. (A Localhost profile is written for the
//     pod's containers, not for pause.)
//   - Any other pod (nothing asked, Unconfined; privileged or not): Berth's
//     pause profile, which refuses the calls that reach the kernel's
//     riskier parts and allows the rest (pauseDenied). containerd and CRI-O
//     run this pause unconfined. Its filter is a few dozen rules where the
//     default profile has hundreds, and runc compiles the filter at every
//     pod start: about 7 ms of each RunPodSandbox on a 2-core node.
//
// A request it cannot read gets the default profile: the pod's containers
// report the error.
func SandboxOpts(sc *runtimeapi.LinuxSandboxSecurityContext) oci.SpecOpts {
	//nolint:staticcheck // The deprecated path still arrives from older kubelets and crictl.
	p, err := request(sc.GetSeccomp(), sc.GetSeccompProfilePath())
	if err != nil || p.Kind != Unconfined {
		return withSandboxProfile
	}
	return withPauseProfile
}

// inRoot returns path relative to root, or an error if it lies outside.
// Both are absolute and clean. It is the lexical check only: the file is
// then opened through an os.Root, which also refuses symlinks that leave
// the root.
func inRoot(root, path string) (string, error) {
	if root == "" {
		return "", fmt.Errorf("seccomp profile %q: no seccomp profile root is configured ([security] seccomp_profile_root): %w",
			path, errdefs.ErrInvalidArgument)
	}
	rel, err := filepath.Rel(filepath.Clean(root), path)
	if err != nil || rel == "." || rel == ".." || strings.HasPrefix(rel, "../") {
		return "", fmt.Errorf("seccomp profile %q is outside the profile root %q: %w", path, root, errdefs.ErrInvalidArgument)
	}
	return rel, nil
}
