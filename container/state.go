package container

import (
	"os"
	"path/filepath"
)

// removeStateDir removes a container's state directory (the fifo
// directory and its parent).
func removeStateDir(fifoDir string) error {
	return os.RemoveAll(filepath.Dir(fifoDir))
}
