package netns

import (
	"fmt"
	"path/filepath"
	"regexp"

	"github.com/containerd/errdefs"
	"github.com/opencontainers/runtime-spec/specs-go"
)

// validID is what a sandbox ID may look like to become a file name under
// dir: the same rule libcni applies to container IDs, so every ID that can
// get a network can get a namespace, and no ID can escape dir.
var validID = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.\-]*$`)

// Path returns where Create pins the namespace of sandbox id under dir.
func Path(dir, id string) string {
	return filepath.Join(dir, id)
}

func validate(dir, id string) error {
	if dir == "" {
		return fmt.Errorf("netns directory is empty: %w", errdefs.ErrInvalidArgument)
	}
	if !validID.MatchString(id) {
		return fmt.Errorf("sandbox ID %q cannot name a network namespace: %w", id, errdefs.ErrInvalidArgument)
	}
	return nil
}

// Pod says which namespaces of a pod Berth makes and pins, and where: a
// path for each the pod has of its own, "" for one it shares with the node.
type Pod struct {
	Net, IPC, UTS string
	// Hostname is set in the UTS namespace.
	Hostname string
	// UIDs and GIDs, when set, make the namespaces inside a new user
	// namespace with these mappings, which then owns them (PinUserNS).
	UIDs, GIDs *specs.LinuxIDMapping
}

// nsKind is one namespace type CreatePod can make.
type nsKind struct {
	name string // as in /proc/PID/ns/
	flag int
	path string
}

func (p Pod) kinds() []nsKind {
	var out []nsKind
	for _, k := range []nsKind{{"net", cloneNewNet, p.Net}, {"ipc", cloneNewIPC, p.IPC}, {"uts", cloneNewUTS, p.UTS}} {
		if k.path != "" {
			out = append(out, k)
		}
	}
	return out
}

// The clone flags of the namespaces CreatePod makes, as Linux numbers them
// (here so that Pod builds on every OS).
const (
	cloneNewUTS = 0x04000000
	cloneNewIPC = 0x08000000
	cloneNewNet = 0x40000000
)
