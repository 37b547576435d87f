package netns

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime"

	"github.com/containerd/errdefs"
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
func Create(dir, id string) (_ string, retErr error) {
	if err := validate(dir, id); err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o711); err != nil {
		return "", fmt.Errorf("create netns directory: %w", err)
	}
	path := Path(dir, id)

	// The mount point must be a file; O_EXCL makes two Creates of the same ID
	// fail instead of stacking two namespaces on one path.
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE|os.O_EXCL, 0o444)
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

	if err := onThrowAwayThread(func() error { return pinNewNetNS(path) }); err != nil {
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
