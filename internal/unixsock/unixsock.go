// Package unixsock makes listening unix sockets with a given mode without
// touching the process's umask, which every goroutine shares: berthd
// creates its sockets while others write files.
//
// Contract: the socket appears at path already with mode perm; nobody can
// connect to it before then, because it is bound and chmodded under a
// fresh 0700 directory beside path and renamed into place. Closing the
// listener removes path. The caller removes any stale socket at path.
package unixsock

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
)

// Listen listens on a new unix socket at path with mode perm.
func Listen(path string, perm os.FileMode) (net.Listener, error) {
	private, err := os.MkdirTemp(filepath.Dir(path), ".sock-")
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", path, err)
	}
	defer os.RemoveAll(private)
	tmp := filepath.Join(private, "s")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: tmp, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", path, err)
	}
	// The name it was bound to goes away with the directory.
	l.SetUnlinkOnClose(false)
	if err := os.Chmod(tmp, perm); err != nil {
		_ = l.Close() // the error being returned is the one that matters
		return nil, fmt.Errorf("chmod %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = l.Close() // the error being returned is the one that matters
		return nil, fmt.Errorf("listen on %s: %w", path, err)
	}
	return &listener{UnixListener: l, path: path}, nil
}

type listener struct {
	*net.UnixListener
	path string
}

// Close stops listening and removes the socket, as net's own unix
// listeners do.
func (l *listener) Close() error {
	err := l.UnixListener.Close()
	os.Remove(l.path)
	return err
}
