package images

import (
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
)

// The installer image's install(1) stand-in must do what hack/install.sh
// relies on: DEST gets SOURCE's content and MODE, as a new file (a running
// binary at DEST is replaced, never written into), and a form it does not
// know is an error rather than silently something else.
func TestInstallShimReplacesTheFile(t *testing.T) {
	dir := t.TempDir()
	shim := filepath.Join(dir, "install")
	if err := os.WriteFile(shim, []byte(installShim), 0o755); err != nil {
		t.Fatal(err)
	}
	src, dst := filepath.Join(dir, "new"), filepath.Join(dir, "berthd")
	if err := os.WriteFile(src, []byte("new binary"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, []byte("running binary"), 0o755); err != nil {
		t.Fatal(err)
	}
	running, err := os.Open(dst) // as the kernel holds a running binary
	if err != nil {
		t.Fatal(err)
	}
	defer running.Close()
	before, _ := os.Stat(dst)

	if out, err := exec.Command(shim, "-m", "0751", src, dst).CombinedOutput(); err != nil {
		t.Fatalf("install -m 0751: %v\n%s", err, out)
	}
	after, err := os.Stat(dst)
	if err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(dst); string(data) != "new binary" || after.Mode().Perm() != 0o751 {
		t.Errorf("dest holds %q with mode %v, want the source's content with 0751", data, after.Mode().Perm())
	}
	if before.Sys().(*syscall.Stat_t).Ino == after.Sys().(*syscall.Stat_t).Ino {
		t.Error("dest was written in place, not replaced: a running binary would be overwritten")
	}
	old := make([]byte, 32)
	if n, _ := running.ReadAt(old, 0); string(old[:n]) != "running binary" {
		t.Errorf("the old file's content changed under its reader: %q", old[:n])
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 3 {
		t.Errorf("temporary files left beside dest: %v", entries)
	}
	if err := exec.Command(shim, "-d", dst).Run(); err == nil {
		t.Error("install -d was accepted; the stand-in only knows install -m MODE SOURCE DEST")
	}
}
