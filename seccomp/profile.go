package seccomp

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/containerd/errdefs"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Kind is what a container's seccomp resolves to.
type Kind int

const (
	// Unconfined means no seccomp filter.
	Unconfined Kind = iota
	// RuntimeDefault is the built-in default profile.
	RuntimeDefault
	// Localhost is a JSON profile file on the node.
	Localhost
)

func (k Kind) String() string {
	switch k {
	case RuntimeDefault:
		return "RuntimeDefault"
	case Localhost:
		return "Localhost"
	default:
		return "Unconfined"
	}
}

// Profile is a resolved seccomp request: a kind, and for Localhost the
// absolute path of the profile file.
type Profile struct {
	Kind Kind
	Path string
}

// The deprecated seccomp_profile_path values kubelet once sent.
const (
	legacyRuntimeDefault = "runtime/default"
	legacyDockerDefault  = "docker/default"
	legacyUnconfined     = "unconfined"
	legacyLocalhost      = "localhost/"
)

// Resolve reads a container's seccomp request. The SecurityProfile field
// wins over the deprecated path string. privileged containers run
// unconfined whatever they ask for, as containerd does and critest
// requires ("should ignore a seccomp profile ... when privileged"): the
// kubelet sends the pod's profile to every container, and a privileged
// container holds every capability anyway.
//
// Nothing at all (no field, no path) is Unconfined: kubelet sends
// RuntimeDefault itself when the pod or its SeccompDefault setting asks for
// it, and the CRI says an unset profile is unconfined.
func Resolve(sp *runtimeapi.SecurityProfile, legacyPath string, privileged bool) (Profile, error) {
	p, err := request(sp, legacyPath)
	if err != nil {
		return Profile{}, err
	}
	if privileged {
		return Profile{Kind: Unconfined}, nil
	}
	return p, nil
}

// request is the profile asked for, before the privileged rule.
func request(sp *runtimeapi.SecurityProfile, legacyPath string) (Profile, error) {
	if sp == nil {
		return parseLegacy(legacyPath)
	}
	if sp.GetProfileType() != runtimeapi.SecurityProfile_Localhost && sp.GetLocalhostRef() != "" {
		return Profile{}, fmt.Errorf("seccomp profile %s must not name a localhost_ref (%q): %w",
			sp.GetProfileType(), sp.GetLocalhostRef(), errdefs.ErrInvalidArgument)
	}
	switch sp.GetProfileType() {
	case runtimeapi.SecurityProfile_RuntimeDefault:
		return Profile{Kind: RuntimeDefault}, nil
	case runtimeapi.SecurityProfile_Unconfined:
		return Profile{Kind: Unconfined}, nil
	case runtimeapi.SecurityProfile_Localhost:
		return localhost(sp.GetLocalhostRef())
	default:
		return Profile{}, fmt.Errorf("unknown seccomp profile type %d: %w", sp.GetProfileType(), errdefs.ErrInvalidArgument)
	}
}

// parseLegacy reads the deprecated seccomp_profile_path.
func parseLegacy(path string) (Profile, error) {
	switch {
	case path == "":
		return Profile{Kind: Unconfined}, nil
	case path == legacyRuntimeDefault, path == legacyDockerDefault:
		return Profile{Kind: RuntimeDefault}, nil
	case path == legacyUnconfined:
		return Profile{Kind: Unconfined}, nil
	case strings.HasPrefix(path, legacyLocalhost):
		return localhost(strings.TrimPrefix(path, legacyLocalhost))
	default:
		return Profile{}, fmt.Errorf("seccomp profile path %q: want runtime/default, docker/default, unconfined or localhost/<path>: %w",
			path, errdefs.ErrInvalidArgument)
	}
}

// localhost checks the shape of a Localhost reference: kubelet sends an
// absolute path (its seccomp root joined with the pod's profile name), and
// no element of it may climb with "..". Where the file is, and what it
// holds, is checked when it is read.
func localhost(ref string) (Profile, error) {
	if ref == "" {
		return Profile{}, fmt.Errorf("seccomp profile type Localhost needs a localhost_ref: %w", errdefs.ErrInvalidArgument)
	}
	if !filepath.IsAbs(ref) {
		return Profile{}, fmt.Errorf("seccomp profile %q must be an absolute path: %w", ref, errdefs.ErrInvalidArgument)
	}
	for _, elem := range strings.Split(ref, "/") {
		if elem == ".." {
			return Profile{}, fmt.Errorf("seccomp profile %q must not contain \"..\": %w", ref, errdefs.ErrInvalidArgument)
		}
	}
	return Profile{Kind: Localhost, Path: filepath.Clean(ref)}, nil
}
