package unixsock

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync/atomic"
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

// FromFile takes over a listening unix socket handed on as f (see File),
// serving at path; f itself is closed. Closing the result removes path, as
// Listen's does.
func FromFile(f *os.File, path string) (net.Listener, error) {
	defer f.Close()
	l, err := net.FileListener(f)
	if err != nil {
		return nil, fmt.Errorf("inherited socket for %s: %w", path, err)
	}
	ul, ok := l.(*net.UnixListener)
	if !ok {
		l.Close()
		return nil, fmt.Errorf("inherited socket for %s is a %s listener, not a unix one", path, l.Addr().Network())
	}
	ul.SetUnlinkOnClose(false)
	return &listener{UnixListener: ul, path: path}, nil
}

type listener struct {
	*net.UnixListener
	path     string
	handedOn atomic.Bool
}

// File returns a duplicate of the listening descriptor, to hand the socket
// on; from then on Close leaves path in place.
func (l *listener) File() (*os.File, error) {
	f, err := l.UnixListener.File()
	if err == nil {
		l.handedOn.Store(true)
	}
	return f, err
}

// Close stops listening and removes the socket, as net's own unix
// listeners do, unless the socket was handed on.
func (l *listener) Close() error {
	err := l.UnixListener.Close()
	if !l.handedOn.Load() {
		os.Remove(l.path)
	}
	return err
}
