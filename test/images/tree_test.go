package images

import (
	"archive/tar"
	"bytes"
	"io"
	"testing"
)

func tarHeaders(t *testing.T, tree *Tree) []*tar.Header {
	t.Helper()
	var buf bytes.Buffer
	if err := tree.WriteTar(&buf); err != nil {
		t.Fatal(err)
	}
	var hdrs []*tar.Header
	tr := tar.NewReader(&buf)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return hdrs
		}
		if err != nil {
			t.Fatal(err)
		}
		hdrs = append(hdrs, h)
	}
}

func TestWriteTarOrderAndFixedFields(t *testing.T) {
	tree := NewTree()
	tree.File("/bin/busybox", 0o755, []byte("elf"))
	if err := tree.HardLink("bin/[", "bin/busybox"); err != nil {
		t.Fatal(err)
	}
	tree.Symlink("lib64/ld.so", "/lib/ld.so")
	tree.Dir("tmp", 0o1777)
	tree.File("usr/local/bin/nnp", 0o4755, []byte("x"))
	tree.Dir("home/user", 0o755)
	if err := tree.Chown("home/user", 1000, 1000); err != nil {
		t.Fatal(err)
	}

	type row struct {
		name string
		typ  byte
		mode int64
		uid  int
		link string
	}
	want := []row{
		{"bin/", tar.TypeDir, 0o755, 0, ""},
		{"bin/busybox", tar.TypeReg, 0o755, 0, ""},
		{"home/", tar.TypeDir, 0o755, 0, ""},
		{"home/user/", tar.TypeDir, 0o755, 1000, ""},
		{"lib64/", tar.TypeDir, 0o755, 0, ""},
		{"lib64/ld.so", tar.TypeSymlink, 0o777, 0, "/lib/ld.so"},
		{"tmp/", tar.TypeDir, 0o1777, 0, ""},
		{"usr/", tar.TypeDir, 0o755, 0, ""},
		{"usr/local/", tar.TypeDir, 0o755, 0, ""},
		{"usr/local/bin/", tar.TypeDir, 0o755, 0, ""},
		{"usr/local/bin/nnp", tar.TypeReg, 0o4755, 0, ""},
		// The hard link comes last although "bin/[" sorts first: it may
		// only follow the file it names.
		{"bin/[", tar.TypeLink, 0o755, 0, "bin/busybox"},
	}
	hdrs := tarHeaders(t, tree)
	if len(hdrs) != len(want) {
		t.Fatalf("%d entries, want %d", len(hdrs), len(want))
	}
	for i, h := range hdrs {
		w := want[i]
		if h.Name != w.name || h.Typeflag != w.typ || h.Mode != w.mode || h.Uid != w.uid || h.Linkname != w.link {
			t.Errorf("entry %d = %q type %c mode %o uid %d link %q, want %+v", i, h.Name, h.Typeflag, h.Mode, h.Uid, h.Linkname, w)
		}
		if !h.ModTime.Equal(Epoch) || h.Uname != "" || h.Gname != "" {
			t.Errorf("%s: mtime %v uname %q gname %q, want the fixed epoch and no names", h.Name, h.ModTime, h.Uname, h.Gname)
		}
	}
}

func TestLayerDigestDependsOnlyOnContent(t *testing.T) {
	build := func(order []string) *Tree {
		tree := NewTree()
		for _, p := range order {
			tree.File(p, 0o644, []byte(p))
		}
		return tree
	}
	a, err := build([]string{"etc/passwd", "etc/group", "bin/sh"}).Layer()
	if err != nil {
		t.Fatal(err)
	}
	b, err := build([]string{"bin/sh", "etc/group", "etc/passwd"}).Layer()
	if err != nil {
		t.Fatal(err)
	}
	c, err := build([]string{"bin/sh", "etc/group"}).Layer()
	if err != nil {
		t.Fatal(err)
	}
	da, _ := a.Digest()
	db, _ := b.Digest()
	dc, _ := c.Digest()
	if da != db {
		t.Fatalf("same files added in another order gave digests %s and %s", da, db)
	}
	if da == dc {
		t.Fatalf("different content gave the same digest %s", da)
	}
}

func TestCopyFromFollowsSymlinks(t *testing.T) {
	src := NewTree()
	src.File("lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", 0o755, []byte("loader"))
	src.Symlink("lib64/ld-linux-x86-64.so.2", "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2")
	dst := NewTree()
	if err := dst.CopyFrom(src, "/lib64/ld-linux-x86-64.so.2"); err != nil {
		t.Fatal(err)
	}
	got, err := dst.ReadFile("lib64/ld-linux-x86-64.so.2")
	if err != nil || string(got) != "loader" {
		t.Fatalf("reading through the copied link: %q, %v", got, err)
	}
	if err := dst.CopyFrom(src, "lib/missing.so"); err == nil {
		t.Fatal("copying a missing path succeeded")
	}
}

func TestReadTarTreeRoundTrip(t *testing.T) {
	tree := NewTree()
	tree.File("bin/busybox", 0o755, []byte("elf"))
	tree.Symlink("bin/sh", "busybox")
	var buf bytes.Buffer
	if err := tree.WriteTar(&buf); err != nil {
		t.Fatal(err)
	}
	back, err := ReadTarTree(&buf)
	if err != nil {
		t.Fatal(err)
	}
	got, err := back.ReadFile("/bin/sh")
	if err != nil || string(got) != "elf" {
		t.Fatalf("bin/sh after a round trip: %q, %v", got, err)
	}
}
