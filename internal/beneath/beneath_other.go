//go:build !linux

package beneath

import "os"

// Without openat2, an os.Root keeps every open below dir.
func openFile(dir, rel string, flag int, perm os.FileMode) (*os.File, error) {
	return rootOpenFile(dir, rel, flag, perm)
}

func mkdirAll(dir, rel string, perm os.FileMode) error {
	return rootMkdirAll(dir, rel, perm)
}
