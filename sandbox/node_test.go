package sandbox

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"sync"

	"github.com/containerd/errdefs"

	"github.com/berth-cri/berth/sandbox/netns"
)

// fakeNode pins namespaces and mounts /dev/shm in name only: it makes the
// mount points the real Node makes (so the state directory looks as it
// does on a node) and remembers what is "mounted" on them. It needs no
// root.
type fakeNode struct {
	j *journal

	mu      sync.Mutex
	pinned  map[string]bool
	shm     map[string]bool
	cgroups []string // removed
}

func newFakeNode(j *journal) *fakeNode {
	return &fakeNode{j: j, pinned: map[string]bool{}, shm: map[string]bool{}}
}

// left lists the pins and mounts still in place.
func (n *fakeNode) left() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []string
	for p := range n.pinned {
		out = append(out, "pin "+p)
	}
	for p := range n.shm {
		out = append(out, "shm "+p)
	}
	sort.Strings(out)
	return out
}

func (n *fakeNode) isPinned(path string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.pinned[path]
}

// pin makes a mount point at path and pins a namespace there.
func (n *fakeNode) pin(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o711); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE|os.O_EXCL, 0o444)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("namespace pin %s: %w", path, errdefs.ErrAlreadyExists)
	}
	if err != nil {
		return err
	}
	f.Close()
	n.mu.Lock()
	n.pinned[path] = true
	n.mu.Unlock()
	return nil
}

// unpinned is a namespace whose pin went away but whose mount point is
// left: what a reboot does to a state directory that is not a tmpfs, or
// an unmount by hand.
func (n *fakeNode) unpinned(path string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	delete(n.pinned, path)
}

func (n *fakeNode) CreatePod(p netns.Pod) error {
	if err := n.j.do("netns.create", p.Net+" "+p.IPC+" "+p.UTS); err != nil {
		return err
	}
	var made []string
	for _, path := range []string{p.Net, p.IPC, p.UTS} {
		if path == "" {
			continue
		}
		if err := n.pin(path); err != nil {
			for _, m := range made {
				_ = n.Unpin(m)
			}
			return err
		}
		made = append(made, path)
	}
	return nil
}

func (n *fakeNode) PinUserNS(owner, dst string) error {
	if err := n.j.do("userns.pin", dst); err != nil {
		return err
	}
	if !n.isPinned(owner) {
		return fmt.Errorf("namespace %s: %w", owner, errdefs.ErrNotFound)
	}
	return n.pin(dst)
}

func (n *fakeNode) BringUpLoopback(path string) error {
	if err := n.j.do("lo.up", path); err != nil {
		return err
	}
	if !n.isPinned(path) {
		return fmt.Errorf("network namespace %s: %w", path, errdefs.ErrNotFound)
	}
	return nil
}

func (n *fakeNode) Pinned(path string) (bool, error) { return n.isPinned(path), nil }

func (n *fakeNode) Unpin(path string) error {
	if err := n.j.do("unpin", path); err != nil {
		return err
	}
	n.mu.Lock()
	delete(n.pinned, path)
	n.mu.Unlock()
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

func (n *fakeNode) MountShm(path string) error {
	if err := n.j.do("shm.mount", path); err != nil {
		return err
	}
	if err := os.MkdirAll(path, 0o700); err != nil {
		return err
	}
	n.mu.Lock()
	n.shm[path] = true
	n.mu.Unlock()
	return nil
}

func (n *fakeNode) UnmountShm(path string) error {
	if err := n.j.do("shm.unmount", path); err != nil {
		return err
	}
	n.mu.Lock()
	delete(n.shm, path)
	n.mu.Unlock()
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

func (n *fakeNode) RemoveCgroup(path string) error {
	if err := n.j.do("cgroup.remove", path); err != nil {
		return err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.cgroups = append(n.cgroups, path)
	return nil
}

func (n *fakeNode) RemoveLegacyPoolCgroups() error {
	return n.j.do("cgroup.remove-pool", legacyPoolCgroup)
}
