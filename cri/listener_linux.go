package cri

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/containerd/errdefs"

	"github.com/berth-cri/berth/internal/unixsock"
)

// Listen opens the CRI unix socket at path: its directory is created 0700,
// the socket is 0660. A leftover socket from a berthd that died is removed,
// but only if nothing answers on it and it is a socket: a live berthd, or a
// regular file someone put there, is an error instead.
func Listen(path string) (net.Listener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("create socket directory: %w", err)
	}
	if err := removeStaleSocket(path); err != nil {
		return nil, err
	}
	// Never wider than 0660, not even between bind and chmod, and with no
	// change to the umask every goroutine shares.
	return unixsock.Listen(path, 0o660)
}

func removeStaleSocket(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if fi.Mode()&fs.ModeSocket == 0 {
		return fmt.Errorf("%s exists and is not a socket; refusing to remove it: %w", path, errdefs.ErrAlreadyExists)
	}
	if conn, err := net.DialTimeout("unix", path, time.Second); err == nil {
		conn.Close()
		return fmt.Errorf("another process is serving on %s (is berthd already running?): %w", path, errdefs.ErrAlreadyExists)
	}
	return os.Remove(path)
}
