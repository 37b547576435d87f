package netns

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/containerd/containerd/v2/pkg/sys"
	"github.com/containerd/errdefs"
	"golang.org/x/sys/unix"
)

// CreatePod makes the namespaces p asks for and pins each at its path, the
// hostname set in the UTS namespace. All are made by one unshare, on a
// throw-away thread (or, with ID mappings, in a short-lived child inside a
// new user namespace that then owns them). On error none is left pinned.
func CreatePod(p Pod) (retErr error) {
	kinds := p.kinds()
	if len(kinds) == 0 {
		return nil
	}
	var made []string
	defer func() {
		if retErr != nil {
			for _, path := range made {
				_ = Remove(path)
			}
		}
	}()
	for _, k := range kinds {
		if err := mountPoint(k.path); err != nil {
			return err
		}
		made = append(made, k.path)
	}
	if p.UIDs != nil {
		return createInUserNS(p, kinds)
	}
	return onThrowAwayThread(func() error {
		if err := unix.Unshare(cloneFlags(kinds)); err != nil {
			return fmt.Errorf("unshare the pod's namespaces: %w", err)
		}
		if p.UTS != "" {
			if err := unix.Sethostname([]byte(p.Hostname)); err != nil {
				return fmt.Errorf("set the pod's hostname: %w", err)
			}
		}
		for _, k := range kinds {
			self := fmt.Sprintf("/proc/%d/task/%d/ns/%s", os.Getpid(), unix.Gettid(), k.name)
			if err := unix.Mount(self, k.path, "none", unix.MS_BIND, ""); err != nil {
				return fmt.Errorf("pin the %s namespace at %s: %w", k.name, k.path, err)
			}
		}
		return nil
	})
}

// createInUserNS is CreatePod for a pod with ID mappings: the child that
// made the namespaces cannot set the hostname, so a throw-away thread joins
// the pinned UTS namespace to do it (berthd's root may: it owns the pod's
// user namespace's parent).
func createInUserNS(p Pod, kinds []nsKind) error {
	err := sys.UnshareAfterEnterUserns(idMap(*p.UIDs), idMap(*p.GIDs), uintptr(cloneFlags(kinds)), func(pid int) error {
		for _, k := range kinds {
			if err := unix.Mount(fmt.Sprintf("/proc/%d/ns/%s", pid, k.name), k.path, "none", unix.MS_BIND, ""); err != nil {
				return fmt.Errorf("pin the %s namespace at %s: %w", k.name, k.path, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("namespaces in a user namespace: %w", err)
	}
	if p.UTS == "" {
		return nil
	}
	return onThrowAwayThread(func() error {
		f, err := os.Open(p.UTS)
		if err != nil {
			return fmt.Errorf("open the pod's UTS namespace: %w", err)
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWUTS); err != nil {
			return fmt.Errorf("join the pod's UTS namespace: %w", err)
		}
		if err := unix.Sethostname([]byte(p.Hostname)); err != nil {
			return fmt.Errorf("set the pod's hostname: %w", err)
		}
		return nil
	})
}

func cloneFlags(kinds []nsKind) int {
	flags := 0
	for _, k := range kinds {
		flags |= k.flag
	}
	return flags
}

// mountPoint creates the empty file a namespace is bound onto. O_EXCL: a
// second pin of one path fails instead of stacking two namespaces there.
func mountPoint(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o711); err != nil { //nolint:gosec // traversable, not listable: runc joins the pins as the pod's user, which may be an unprivileged node UID in a user namespace
		return fmt.Errorf("create namespace pin directory: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE|os.O_EXCL, 0o444) //nolint:gosec // a mount point: the namespace bound over it shows its own mode
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("namespace pin %s: %w", path, errdefs.ErrAlreadyExists)
	}
	if err != nil {
		return fmt.Errorf("create namespace mount point: %w", err)
	}
	return f.Close()
}
