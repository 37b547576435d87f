package beneath

import (
	"errors"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

const resolve = unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS

func openat2(dirfd int, rel string, flag int, perm os.FileMode) (int, error) {
	how := unix.OpenHow{Flags: uint64(flag | unix.O_CLOEXEC), Resolve: resolve}
	if flag&(unix.O_CREAT|unix.O_TMPFILE) != 0 {
		how.Mode = uint64(perm.Perm())
	}
	for {
		fd, err := unix.Openat2(dirfd, rel, &how)
		if err != unix.EINTR && err != unix.EAGAIN {
			return fd, err
		}
	}
}

func openDir(dir string) (int, error) {
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, &os.PathError{Op: "open", Path: dir, Err: err}
	}
	return fd, nil
}

func openFile(dir, rel string, flag int, perm os.FileMode) (*os.File, error) {
	dfd, err := openDir(dir)
	if err != nil {
		return nil, err
	}
	defer unix.Close(dfd)
	fd, err := openat2(dfd, rel, flag, perm)
	if errors.Is(err, unix.ENOSYS) {
		return rootOpenFile(dir, rel, flag, perm)
	}
	path := filepath.Join(dir, rel)
	if err != nil {
		return nil, &os.PathError{Op: "open beneath", Path: path, Err: err}
	}
	return os.NewFile(uintptr(fd), path), nil
}

func mkdirAll(dir, rel string, perm os.FileMode) error {
	cur, err := openDir(dir)
	if err != nil {
		return err
	}
	defer func() { unix.Close(cur) }()
	for _, name := range strings.Split(filepath.Clean(rel), string(filepath.Separator)) {
		if err := unix.Mkdirat(cur, name, uint32(perm.Perm())); err != nil && err != unix.EEXIST {
			return &os.PathError{Op: "mkdir beneath", Path: filepath.Join(dir, rel), Err: err}
		}
		next, err := openat2(cur, name, unix.O_PATH|unix.O_DIRECTORY, 0)
		if errors.Is(err, unix.ENOSYS) {
			return rootMkdirAll(dir, rel, perm)
		}
		if err != nil {
			return &os.PathError{Op: "open beneath", Path: filepath.Join(dir, rel), Err: err}
		}
		unix.Close(cur)
		cur = next
	}
	return nil
}
