package sandbox

import (
	"fmt"

	"github.com/berth-cri/berth/sandbox/netns"
)

// Node does a pod's work on the node that needs root: its namespaces,
// pinned under the state directory, its /dev/shm, and the cgroups an
// older Berth left. A nil Config.Node is this node (hostNode); tests
// fake it.
type Node interface {
	// CreatePod makes the namespaces p asks for and pins each at its path
	// (netns.CreatePod); on error none is left pinned.
	CreatePod(p netns.Pod) error
	// PinUserNS pins at dst the user namespace that owns the namespace
	// pinned at owner.
	PinUserNS(owner, dst string) error
	// BringUpLoopback sets lo up in the network namespace pinned at path.
	BringUpLoopback(path string) error
	// Pinned says whether a namespace is pinned at path.
	Pinned(path string) (bool, error)
	// Unpin unpins the namespace at path and removes the mount point; a
	// path that is missing or not mounted is success.
	Unpin(path string) error
	// MountShm mounts a pod's own /dev/shm tmpfs at path.
	MountShm(path string) error
	// UnmountShm unmounts it and removes the mount point; a path that is
	// missing or not mounted is success.
	UnmountShm(path string) error
	// RemoveCgroup removes cgroup path, which an older Berth made, from
	// every cgroup v1 hierarchy once its last process has gone.
	RemoveCgroup(path string) error
	// RemoveLegacyPoolCgroups removes the empty cgroups of an older
	// Berth's sandbox pool (legacy_linux.go).
	RemoveLegacyPoolCgroups() error
}

// hostNode is this node's Node.
type hostNode struct{}

func (hostNode) CreatePod(p netns.Pod) error       { return netns.CreatePod(p) }
func (hostNode) PinUserNS(owner, dst string) error { return netns.PinUserNS(owner, dst) }
func (hostNode) BringUpLoopback(path string) error { return netns.BringUpLoopback(path) }
func (hostNode) Pinned(path string) (bool, error)  { return netns.Exists(path) }
func (hostNode) Unpin(path string) error           { return netns.Remove(path) }
func (hostNode) MountShm(path string) error        { return mountShm(path) }
func (hostNode) UnmountShm(path string) error      { return unmountShm(path) }

func (hostNode) RemoveCgroup(path string) error {
	hier, err := cgroupV1Hierarchies()
	if err != nil {
		return fmt.Errorf("cgroup hierarchies: %w", err)
	}
	return removeCgroup(hier, path)
}

func (hostNode) RemoveLegacyPoolCgroups() error {
	hier, err := cgroupV1Hierarchies()
	if err != nil {
		return err
	}
	return removeLegacyPoolCgroups(hier)
}
