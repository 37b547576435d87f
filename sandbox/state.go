package sandbox

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// A sandbox's state directory (Config.State/sandboxes/ID, on a tmpfs that
// a reboot empties) holds what does not outlive the node's uptime: the
// pod's /dev/shm mount, the pins of its IPC, UTS and user namespaces, and,
// for an infra-less pod, the mark that it is ready.
const (
	shmFile    = "shm"
	ipcFile    = "ipc"
	utsFile    = "uts"
	usernsFile = "userns"
	// readyFile marks an infra-less sandbox ready: written last by Run,
	// removed first by Stop. A berthd that restarts finds it if the pod was
	// not stopped (and the node not rebooted), which is what a pause's
	// running task says of a pod that has one.
	readyFile = "ready"
)

func (m *Manager) stateDir(id string) string { return filepath.Join(m.cfg.State, "sandboxes", id) }

func markReady(dir string) error {
	if err := os.MkdirAll(dir, 0o711); err != nil { //nolint:gosec // traversable, not listable: runc joins the pins as the pod's user, which may be an unprivileged node UID in a user namespace
		return fmt.Errorf("mark the sandbox ready: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, readyFile), nil, 0o600); err != nil {
		return fmt.Errorf("mark the sandbox ready: %w", err)
	}
	return nil
}

func unmarkReady(dir string) error {
	if err := os.Remove(filepath.Join(dir, readyFile)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("unmark the sandbox ready: %w", err)
	}
	return nil
}

func markedReady(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, readyFile))
	return err == nil
}
