package apparmor

import (
	"fmt"
	"strings"

	"github.com/containerd/errdefs"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// DefaultProfileName is the profile RuntimeDefault confines containers to.
const DefaultProfileName = "berth-default"

// Kind is what a container's AppArmor resolves to.
type Kind int

const (
	// Unconfined means no profile is set; the container runs as berthd's
	// children do.
	Unconfined Kind = iota
	// RuntimeDefault is berth-default.
	RuntimeDefault
	// Localhost is a profile the operator loaded.
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

// Profile is a resolved AppArmor request: a kind, and the profile name for
// Localhost and RuntimeDefault.
type Profile struct {
	Kind Kind
	Name string
}

// The deprecated apparmor_profile values.
const (
	legacyRuntimeDefault = "runtime/default"
	legacyUnconfined     = "unconfined"
	legacyLocalhost      = "localhost/"
)

// errNotEnabled is what a Localhost profile gets on a node without
// AppArmor.
var errNotEnabled = fmt.Errorf("AppArmor is not enabled on this node: %w", errdefs.ErrFailedPrecondition)

// Resolve decides a container's AppArmor profile. The SecurityProfile field
// wins over the deprecated string. With AppArmor enabled, nothing asked
// means RuntimeDefault (kubelet leaves the field empty for the default, as
// containerd reads it), and a privileged container's RuntimeDefault is
// Unconfined; a Localhost profile applies to privileged containers too,
// since someone named it.
func Resolve(sp *runtimeapi.SecurityProfile, legacy string, privileged, enabled bool) (Profile, error) {
	p, set, err := request(sp, legacy)
	if err != nil {
		return Profile{}, err
	}
	if !enabled {
		if set && p.Kind == Localhost {
			return Profile{}, fmt.Errorf("AppArmor profile %q: %w", p.Name, errNotEnabled)
		}
		return Profile{Kind: Unconfined}, nil
	}
	if !set {
		p = Profile{Kind: RuntimeDefault}
	}
	if p.Kind == RuntimeDefault {
		if privileged {
			return Profile{Kind: Unconfined}, nil
		}
		p.Name = DefaultProfileName
	}
	return p, nil
}

// request is the profile asked for, and whether anything was asked.
func request(sp *runtimeapi.SecurityProfile, legacy string) (Profile, bool, error) {
	if sp == nil {
		return parseLegacy(legacy)
	}
	if sp.GetProfileType() != runtimeapi.SecurityProfile_Localhost && sp.GetLocalhostRef() != "" {
		return Profile{}, false, fmt.Errorf("AppArmor profile %s must not name a localhost_ref (%q): %w",
			sp.GetProfileType(), sp.GetLocalhostRef(), errdefs.ErrInvalidArgument)
	}
	switch sp.GetProfileType() {
	case runtimeapi.SecurityProfile_RuntimeDefault:
		return Profile{Kind: RuntimeDefault}, true, nil
	case runtimeapi.SecurityProfile_Unconfined:
		return Profile{Kind: Unconfined}, true, nil
	case runtimeapi.SecurityProfile_Localhost:
		// kubelet's conversion of the annotation, and critest, send the
		// ref as "localhost/<name>"; containerd strips the prefix too.
		p, err := localhost(strings.TrimPrefix(sp.GetLocalhostRef(), legacyLocalhost))
		return p, true, err
	default:
		return Profile{}, false, fmt.Errorf("unknown AppArmor profile type %d: %w", sp.GetProfileType(), errdefs.ErrInvalidArgument)
	}
}

func parseLegacy(s string) (Profile, bool, error) {
	switch {
	case s == "":
		return Profile{}, false, nil
	case s == legacyRuntimeDefault:
		return Profile{Kind: RuntimeDefault}, true, nil
	case s == legacyUnconfined:
		return Profile{Kind: Unconfined}, true, nil
	case strings.HasPrefix(s, legacyLocalhost):
		p, err := localhost(strings.TrimPrefix(s, legacyLocalhost))
		return p, true, err
	default:
		return Profile{}, false, fmt.Errorf("AppArmor profile %q: want runtime/default, unconfined or localhost/<name>: %w",
			s, errdefs.ErrInvalidArgument)
	}
}

// localhost checks a profile name: it goes into the spec and, through
// runc, into /proc/self/attr/exec, where a space or a newline would change
// its meaning.
func localhost(name string) (Profile, error) {
	if name == "" {
		return Profile{}, fmt.Errorf("AppArmor profile type Localhost needs a profile name: %w", errdefs.ErrInvalidArgument)
	}
	if strings.ContainsAny(name, " \t\n\x00") {
		return Profile{}, fmt.Errorf("AppArmor profile name %q contains white space: %w", name, errdefs.ErrInvalidArgument)
	}
	return Profile{Kind: Localhost, Name: name}, nil
}
