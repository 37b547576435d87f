package images

import (
	"os"
	"path/filepath"
	"testing"
)

// TestCopyWithLibsFindsTheLoaderAndLibc copies a dynamically linked host
// program with libraries taken from the host, and checks that what a
// loader needs came along. It uses the host's own files, so it runs on
// Debian amd64 (where the project is built) and skips elsewhere.
func TestCopyWithLibsFindsTheLoaderAndLibc(t *testing.T) {
	const prog = "usr/bin/ipcs"
	hostFiles := []string{
		prog,
		"lib/x86_64-linux-gnu/libc.so.6",
		"lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
	}
	src := NewTree()
	for _, p := range hostFiles {
		data, err := os.ReadFile(filepath.Join("/", p))
		if err != nil {
			t.Skipf("host lacks %s: %v", p, err)
		}
		src.File(p, 0o755, data)
	}
	src.Symlink("lib64/ld-linux-x86-64.so.2", "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2")

	dst := NewTree()
	if err := CopyWithLibs(dst, src, prog, src); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{prog, "lib64/ld-linux-x86-64.so.2", "lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", "lib/x86_64-linux-gnu/libc.so.6"} {
		if _, ok := dst.lookup(p); !ok {
			t.Errorf("%s was not copied", p)
		}
	}

	// A library the tree lacks is an error, not a broken image.
	bare := NewTree()
	bare.File(prog, 0o755, src.entries[prog].data)
	if err := CopyWithLibs(NewTree(), bare, prog, bare); err == nil {
		t.Fatal("copying without libc succeeded")
	}
}

func TestProgramRefusesDynamicBinaries(t *testing.T) {
	dir := t.TempDir()
	data, err := os.ReadFile("/usr/bin/ipcs")
	if err != nil {
		t.Skipf("host lacks /usr/bin/ipcs: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "pgrep"), data, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := (Inputs{BinDir: dir}).program("pgrep"); err == nil {
		t.Fatal("a dynamically linked program was accepted")
	}
}
