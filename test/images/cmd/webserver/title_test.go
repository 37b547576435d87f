package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestTitleKeepsNameForPidof runs the built binary as "nginx" with a
// title, the way the nginx image does, and checks what critest reads:
// the process name (pidof nginx) and "master process" in its cmdline.
func TestTitleKeepsNameForPidof(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "nginx")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	root := t.TempDir()
	title := "nginx: master process nginx -g daemon off;"
	cmd := exec.Command(bin, "-listen", "127.0.0.1:0", "-root", root, "-title", title)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	}()

	procDir := filepath.Join("/proc", strconv.Itoa(cmd.Process.Pid))
	deadline := time.Now().Add(5 * time.Second)
	for {
		cmdline, err := os.ReadFile(filepath.Join(procDir, "cmdline"))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(cmdline), "master process") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("cmdline %q never showed the title", cmdline)
		}
		time.Sleep(20 * time.Millisecond)
	}
	comm, err := os.ReadFile(filepath.Join(procDir, "comm"))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(comm)); got != "nginx" {
		t.Fatalf("process name %q, want nginx so that pidof finds it", got)
	}
}
