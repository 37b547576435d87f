package netns

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"

	"github.com/containerd/containerd/v2/pkg/sys"
	"github.com/containerd/errdefs"
	"github.com/opencontainers/runtime-spec/specs-go"
	"github.com/vishvananda/netlink"
	vnetns "github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// maxStackedMounts bounds how many mounts Remove peels off one path. More
// than one only happens when something bind-mounted over our pin; the bound
// keeps a broken mount table from looping forever.
const maxStackedMounts = 16

// Create makes a new network namespace and pins it at Path(dir, id). The
// directory is created if needed. A namespace already pinned there is an
// errdefs.ErrAlreadyExists error and is left alone.
func Create(dir, id string) (string, error) {
	return create(dir, id, func(path string) error {
		return onThrowAwayThread(func() error { return pinNewNetNS(path) })
	})
}

// CreateInUserNS is Create for a pod with a user namespace of its own: the
// network namespace is made inside a new user namespace with the given
// mappings, and so is owned by it. The pod's root can then mount sysfs and
// administer interfaces in it, which a network namespace owned by the
// node's user namespace refuses. The user namespace lives as long as the
// network namespace does; PinUserNS gives it a path for runc to join.
//
// The new namespaces are made by a short-lived child (containerd's
// sys.UnshareAfterEnterUserns): a multi-threaded process like berthd cannot
// unshare a user namespace itself.
func CreateInUserNS(dir, id string, uids, gids specs.LinuxIDMapping) (string, error) {
	return create(dir, id, func(path string) error {
		err := sys.UnshareAfterEnterUserns(idMap(uids), idMap(gids), unix.CLONE_NEWNET, func(pid int) error {
			if err := unix.Mount(fmt.Sprintf("/proc/%d/ns/net", pid), path, "none", unix.MS_BIND, ""); err != nil {
				return fmt.Errorf("bind-mount network namespace onto %s: %w", path, err)
			}
			return nil
		})
		if err != nil {
			_ = unix.Unmount(path, unix.MNT_DETACH)
			return fmt.Errorf("network namespace in a user namespace: %w", err)
		}
		return nil
	})
}

func idMap(m specs.LinuxIDMapping) string {
	return fmt.Sprintf("%d:%d:%d", m.ContainerID, m.HostID, m.Size)
}

// PinUserNS bind-mounts the user namespace that owns the network namespace
// at netnsPath onto dst, a new file. Remove unpins it.
func PinUserNS(netnsPath, dst string) (retErr error) {
	netnsFile, err := os.Open(netnsPath)
	if err != nil {
		return fmt.Errorf("open network namespace: %w", err)
	}
	defer netnsFile.Close()
	usernsFile, err := sys.GetUsernsForNamespace(netnsFile.Fd())
	if err != nil {
		return fmt.Errorf("user namespace of %s: %w", netnsPath, err)
	}
	defer usernsFile.Close()
	if err := os.MkdirAll(filepath.Dir(dst), 0o711); err != nil { //nolint:gosec // traversable, not listable: runc joins the pins as the pod's user, which may be an unprivileged node UID in a user namespace
		return err
	}
	f, err := os.OpenFile(dst, os.O_RDONLY|os.O_CREATE|os.O_EXCL, 0o444) //nolint:gosec // a mount point: the namespace bound over it shows its own mode
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("user namespace pin %s: %w", dst, errdefs.ErrAlreadyExists)
	}
	if err != nil {
		return fmt.Errorf("create user namespace mount point: %w", err)
	}
	f.Close()
	defer func() {
		if retErr != nil {
			_ = os.Remove(dst)
		}
	}()
	if err := unix.Mount(usernsFile.Name(), dst, "none", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("bind-mount user namespace onto %s: %w", dst, err)
	}
	return nil
}

// create makes the mount point for sandbox id's namespace and runs pin to
// bind a namespace onto it.
func create(dir, id string, pin func(path string) error) (_ string, retErr error) {
	if err := validate(dir, id); err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o711); err != nil { //nolint:gosec // traversable, not listable: runc joins the pins as the pod's user, which may be an unprivileged node UID in a user namespace
		return "", fmt.Errorf("create netns directory: %w", err)
	}
	path := Path(dir, id)

	// The mount point must be a file; O_EXCL makes two Creates of the same ID
	// fail instead of stacking two namespaces on one path.
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE|os.O_EXCL, 0o444) //nolint:gosec // a mount point: the namespace bound over it shows its own mode
	if errors.Is(err, fs.ErrExist) {
		return "", fmt.Errorf("network namespace %s: %w", path, errdefs.ErrAlreadyExists)
	}
	if err != nil {
		return "", fmt.Errorf("create netns mount point: %w", err)
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("create netns mount point: %w", err)
	}
	defer func() {
		if retErr != nil {
			_ = os.Remove(path)
		}
	}()

	if err := pin(path); err != nil {
		return "", err
	}
	return path, nil
}

// onThrowAwayThread runs fn on an OS thread that no goroutine uses again:
// the goroutine locks its thread and returns without unlocking, and Go then
// terminates that thread instead of handing it to the scheduler.
//
// The process's main thread is the exception: Go cannot terminate it and
// parks it forever instead, so a namespace change made there would stick to
// the thread group leader, and with it to /proc/self/net and to every
// /proc/net read by berthd or a library. When the goroutine lands on the
// main thread it keeps that thread locked, which forces the nested call onto
// another thread, and lets go of it untouched.
func onThrowAwayThread(fn func() error) error {
	errCh := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if unix.Gettid() == unix.Getpid() {
			defer runtime.UnlockOSThread()
			errCh <- onThrowAwayThread(fn)
			return
		}
		errCh <- fn()
	}()
	return <-errCh
}

// pinNewNetNS runs on a locked, throw-away thread.
func pinNewNetNS(path string) error {
	if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
		return fmt.Errorf("unshare network namespace: %w", err)
	}
	self := fmt.Sprintf("/proc/%d/task/%d/ns/net", os.Getpid(), unix.Gettid())
	if err := unix.Mount(self, path, "none", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("bind-mount network namespace onto %s: %w", path, err)
	}
	return nil
}

// Remove unpins the namespace at path and deletes the mount point. The
// namespace itself dies with its last user (the pause process, a shim).
// A path that does not exist, or is not mounted, is success, so Remove can
// be retried after a partial failure or a restart.
func Remove(path string) error {
	if path == "" {
		return fmt.Errorf("netns path is empty: %w", errdefs.ErrInvalidArgument)
	}
	for range maxStackedMounts {
		// MNT_DETACH: an open fd on the namespace file (a port-forward, a
		// plugin still exiting) must not make teardown fail; the kernel
		// finishes the unmount when that user lets go.
		err := unix.Unmount(path, unix.MNT_DETACH)
		if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOENT) {
			break // not (or no longer) a mount point
		}
		if err != nil {
			return fmt.Errorf("unmount network namespace %s: %w", path, err)
		}
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove netns mount point: %w", err)
	}
	return nil
}

// Exists reports whether a network namespace is pinned at path. A leftover
// empty mount point (a crash between Create's two steps) is not a namespace.
func Exists(path string) (bool, error) {
	var st unix.Statfs_t
	err := unix.Statfs(path, &st)
	if errors.Is(err, unix.ENOENT) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("statfs %s: %w", path, err)
	}
	return st.Type == unix.NSFS_MAGIC, nil
}

// BringUpLoopback sets lo up inside the namespace at path, without moving
// any thread into it: netlink talks to the namespace through a socket
// opened there.
func BringUpLoopback(path string) error {
	h, err := vnetns.GetFromPath(path)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("network namespace %s: %w", path, errdefs.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("open network namespace %s: %w", path, err)
	}
	defer h.Close()

	nl, err := netlink.NewHandleAt(h)
	if err != nil {
		return fmt.Errorf("netlink handle in %s: %w", path, err)
	}
	defer nl.Close()

	lo, err := nl.LinkByName("lo")
	if err != nil {
		return fmt.Errorf("find lo in %s: %w", path, err)
	}
	if err := nl.LinkSetUp(lo); err != nil {
		return fmt.Errorf("set lo up in %s: %w", path, err)
	}
	return nil
}

// List returns the sandbox IDs that have a mount point under dir, pinned or
// leftover, so that garbage collection can Remove those it does not know.
// A missing dir has none.
func List(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list network namespaces: %w", err)
	}
	var ids []string
	for _, e := range entries {
		if e.IsDir() || !validID.MatchString(e.Name()) {
			continue
		}
		ids = append(ids, e.Name())
	}
	return ids, nil
}
