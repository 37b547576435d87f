package beneath

import (
	"os"
	"path/filepath"
	"testing"
)

// plant makes a log directory whose "link" is a symlink to a file outside
// it and whose "dirlink" is a symlink to a directory outside it.
func plant(t *testing.T) (dir, outside string) {
	t.Helper()
	base := t.TempDir()
	dir, outside = filepath.Join(base, "logs"), filepath.Join(base, "outside")
	for _, d := range []string{dir, outside, filepath.Join(dir, "inside")} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(outside, "secret"), []byte("host file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for link, target := range map[string]string{
		"link":          filepath.Join(outside, "secret"),
		"dirlink":       outside,
		"inside/sib":    filepath.Join(dir, "inside", "real"),
		"inside/dotdot": "../../outside/secret",
	} {
		if err := os.Symlink(target, filepath.Join(dir, link)); err != nil {
			t.Fatal(err)
		}
	}
	return dir, outside
}

func TestOpenFileRefusesSymlinksAndClimbing(t *testing.T) {
	openers := map[string]func(dir, rel string, flag int, perm os.FileMode) (*os.File, error){
		"default": OpenFile,
		"os.Root": rootOpenFile,
	}
	for oname, open := range openers {
		for _, tc := range []struct {
			rel string
			ok  bool
		}{
			{"c/0.log", true},
			{"new.log", true},
			{"link", false},
			{"dirlink/secret", false},
			{"dirlink/new", false},
			{"inside/dotdot", false},
			{"../outside/secret", false},
			{"/etc/hostname", false},
		} {
			t.Run(oname+"/"+tc.rel, func(t *testing.T) {
				dir, outside := plant(t)
				if err := os.MkdirAll(filepath.Join(dir, "c"), 0o755); err != nil {
					t.Fatal(err)
				}
				f, err := open(dir, tc.rel, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
				if (err == nil) != tc.ok {
					t.Fatalf("open %s: ok=%v, want ok=%v (%v)", tc.rel, err == nil, tc.ok, err)
				}
				if err == nil {
					if _, err := f.WriteString("line\n"); err != nil {
						t.Fatal(err)
					}
					f.Close()
				}
				if b, _ := os.ReadFile(filepath.Join(outside, "secret")); string(b) != "host file\n" {
					t.Fatalf("the file outside was written: %q", b)
				}
				if _, err := os.Stat(filepath.Join(outside, "new")); !os.IsNotExist(err) {
					t.Fatalf("a file was made outside: %v", err)
				}
			})
		}
	}
}

func TestOpenFileRefusesASymlinkInsideToo(t *testing.T) {
	// os.Root would follow it (it stays below dir); openat2 with
	// RESOLVE_NO_SYMLINKS does not: one container's log cannot be pointed
	// at another's.
	dir, _ := plant(t)
	if f, err := OpenFile(dir, "inside/sib", os.O_CREATE|os.O_WRONLY, 0o640); err == nil {
		f.Close()
		t.Fatal("a symlink below the directory was followed")
	}
}

func TestMkdirAll(t *testing.T) {
	for _, tc := range []struct {
		rel string
		ok  bool
	}{
		{"a/b/c", true},
		{"inside", true},
		{"dirlink/x", false},
		{"../escape", false},
	} {
		t.Run(tc.rel, func(t *testing.T) {
			dir, outside := plant(t)
			err := MkdirAll(dir, tc.rel, 0o755)
			if (err == nil) != tc.ok {
				t.Fatalf("MkdirAll %s: ok=%v, want ok=%v (%v)", tc.rel, err == nil, tc.ok, err)
			}
			if tc.ok {
				if fi, err := os.Lstat(filepath.Join(dir, tc.rel)); err != nil || !fi.IsDir() {
					t.Fatalf("no directory %s: %v", tc.rel, err)
				}
			}
			if _, err := os.Stat(filepath.Join(outside, "x")); !os.IsNotExist(err) {
				t.Fatalf("a directory was made outside: %v", err)
			}
		})
	}
}

func TestSplit(t *testing.T) {
	if rel, err := Split("/var/log/pods/p", "/var/log/pods/p/c/0.log"); err != nil || rel != "c/0.log" {
		t.Fatalf("Split: %q %v", rel, err)
	}
	if _, err := Split("/var/log/pods/p", "/var/log/pods/q/0.log"); err == nil {
		t.Fatal("Split accepted a path outside the directory")
	}
}
