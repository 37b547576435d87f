package sandbox

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
)

// killLeftShim ends the shim started for sandbox id when it outlived a
// failed start: containerd starts a shim before it creates the task, and
// when containerd dies in between, the new one takes the shim for a
// sandbox's and never ends it, though no task was made. The sandbox ID is
// random and the shim is named by it on its command line (-id ID), so no
// other process can match. It says whether it found one.
func killLeftShim(id string) bool {
	procs, _ := os.ReadDir("/proc")
	want := []byte("\x00-id\x00" + id + "\x00")
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", p.Name(), "cmdline"))
		if err != nil || !bytes.Contains(cmdline, []byte("containerd-shim")) || !bytes.Contains(cmdline, want) {
			continue
		}
		_ = syscall.Kill(pid, syscall.SIGKILL)
		return true
	}
	return false
}
