package cri

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
)

func TestListenSocketMode(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "run", "berth.sock")
	l, err := Listen(sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	fi, err := os.Stat(sock)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o660 {
		t.Errorf("socket mode %o, want 0660", perm)
	}
	dir, _ := os.Stat(filepath.Dir(sock))
	if perm := dir.Mode().Perm(); perm != 0o700 {
		t.Errorf("socket dir mode %o, want 0700", perm)
	}
}

func TestListenReplacesStaleSocket(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "berth.sock")
	// A berthd that died leaves its socket file behind with nobody on it.
	old, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	old.(*net.UnixListener).SetUnlinkOnClose(false)
	old.Close()
	l, err := Listen(sock)
	if err != nil {
		t.Fatalf("stale socket not replaced: %v", err)
	}
	l.Close()
}

func TestListenRefusesLiveSocketAndRegularFile(t *testing.T) {
	dir := t.TempDir()
	live := filepath.Join(dir, "live.sock")
	first, err := Listen(live)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	if _, err := Listen(live); !errdefs.IsAlreadyExists(err) || !strings.Contains(err.Error(), "already running") {
		t.Fatalf("second berthd on a live socket: want AlreadyExists, got %v", err)
	}
	file := filepath.Join(dir, "file.sock")
	if err := os.WriteFile(file, []byte("keep me"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Listen(file); !errdefs.IsAlreadyExists(err) {
		t.Fatalf("regular file in the way: want AlreadyExists, got %v", err)
	}
	if data, _ := os.ReadFile(file); string(data) != "keep me" {
		t.Fatal("Listen removed a file that was not a socket")
	}
}
