package images

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Epoch is the one timestamp the images carry: every tar entry's mtime and
// each config's creation time. A fixed value keeps digests stable.
var Epoch = time.Date(2025, time.January, 1, 0, 0, 0, 0, time.UTC)

// entry is one file system object of a Tree.
type entry struct {
	typ      byte // tar.TypeDir, tar.TypeReg, tar.TypeSymlink, tar.TypeLink
	mode     int64
	uid, gid int
	data     []byte
	link     string
}

// Tree is an in-memory file system that becomes one image layer. Paths are
// slash-separated and relative to the root ("bin/sh"); a leading slash is
// accepted and dropped. Parent directories are created as needed, owned
// by root with mode 0755.
type Tree struct {
	entries map[string]*entry
}

// NewTree returns an empty tree.
func NewTree() *Tree {
	return &Tree{entries: map[string]*entry{}}
}

// cleanPath turns "/a/b/", "./a/b" and "a//b" into "a/b".
func cleanPath(p string) string {
	p = path.Clean("/" + p)
	return strings.TrimPrefix(p, "/")
}

func (t *Tree) put(p string, e *entry) {
	p = cleanPath(p)
	if p == "" {
		return
	}
	t.ensureParents(p)
	t.entries[p] = e
}

func (t *Tree) ensureParents(p string) {
	for dir := path.Dir(p); dir != "." && dir != "/"; dir = path.Dir(dir) {
		if _, ok := t.entries[dir]; ok {
			continue
		}
		t.entries[dir] = &entry{typ: tar.TypeDir, mode: 0o755}
	}
}

// Dir adds a directory. mode holds the permission bits and may hold the
// sticky bit (0o1777 for /tmp).
func (t *Tree) Dir(p string, mode int64) {
	t.put(p, &entry{typ: tar.TypeDir, mode: mode})
}

// File adds a regular file owned by root. mode may hold the set-user-ID
// bit (0o4755).
func (t *Tree) File(p string, mode int64, data []byte) {
	t.put(p, &entry{typ: tar.TypeReg, mode: mode, data: data})
}

// Symlink adds a symbolic link at p pointing to target.
func (t *Tree) Symlink(p, target string) {
	t.put(p, &entry{typ: tar.TypeSymlink, mode: 0o777, link: target})
}

// HardLink adds a hard link at p to the regular file target, which must
// already be in the tree.
func (t *Tree) HardLink(p, target string) error {
	e, ok := t.lookup(target)
	if !ok || e.typ != tar.TypeReg {
		return fmt.Errorf("hard link %s: %s is not a regular file in the tree", p, target)
	}
	t.put(p, &entry{typ: tar.TypeLink, mode: e.mode, uid: e.uid, gid: e.gid, link: cleanPath(target)})
	return nil
}

// Chown sets the owner of an existing path.
func (t *Tree) Chown(p string, uid, gid int) error {
	e, ok := t.entries[cleanPath(p)]
	if !ok {
		return fmt.Errorf("chown %s: no such path in tree", p)
	}
	e.uid, e.gid = uid, gid
	return nil
}

// lookup returns the entry at p without following symlinks.
func (t *Tree) lookup(p string) (*entry, bool) {
	e, ok := t.entries[cleanPath(p)]
	return e, ok
}

// resolve follows symlinks at p (at most 16 hops) and returns the final
// path and entry.
func (t *Tree) resolve(p string) (string, *entry, error) {
	p = cleanPath(p)
	for hops := 0; hops < 16; hops++ {
		e, ok := t.entries[p]
		if !ok {
			return "", nil, fmt.Errorf("%s: not found", p)
		}
		switch e.typ {
		case tar.TypeLink:
			p = e.link
			continue
		case tar.TypeSymlink:
		default:
			return p, e, nil
		}
		if path.IsAbs(e.link) {
			p = cleanPath(e.link)
		} else {
			p = cleanPath(path.Join(path.Dir(p), e.link))
		}
	}
	return "", nil, fmt.Errorf("%s: too many symlinks", p)
}

// ReadFile returns the contents of the regular file at p, following
// symlinks.
func (t *Tree) ReadFile(p string) ([]byte, error) {
	_, e, err := t.resolve(p)
	if err != nil {
		return nil, err
	}
	if e.typ != tar.TypeReg {
		return nil, fmt.Errorf("%s: not a regular file", p)
	}
	return e.data, nil
}

// CopyFrom copies the object at p in src to the same path in t. When p is
// a symlink, the link and whatever it points to are both copied, so the
// path still works in t.
func (t *Tree) CopyFrom(src *Tree, p string) error {
	p = cleanPath(p)
	for hops := 0; hops < 16; hops++ {
		e, ok := src.lookup(p)
		if !ok {
			return fmt.Errorf("copying %s: not found", p)
		}
		copied := *e
		t.put(p, &copied)
		if e.typ != tar.TypeSymlink {
			return nil
		}
		if path.IsAbs(e.link) {
			p = cleanPath(e.link)
		} else {
			p = cleanPath(path.Join(path.Dir(p), e.link))
		}
	}
	return fmt.Errorf("copying %s: too many symlinks", p)
}

// Paths returns every path in the tree, sorted.
func (t *Tree) Paths() []string {
	paths := make([]string, 0, len(t.entries))
	for p := range t.entries {
		paths = append(paths, p)
	}
	// Byte order puts every directory before what it holds, because a
	// directory's path is a prefix of its children's.
	sort.Strings(paths)
	return paths
}

// WriteTar writes the tree as a tar stream with every varying field fixed.
// Entries come in path order, except that hard links come last, each
// after the file it names: an extractor can only link to a file it has
// already written, and "bin/[" sorts before "bin/busybox".
func (t *Tree) WriteTar(w io.Writer) error {
	var files, links []string
	for _, p := range t.Paths() {
		if t.entries[p].typ == tar.TypeLink {
			links = append(links, p)
		} else {
			files = append(files, p)
		}
	}
	tw := tar.NewWriter(w)
	for _, p := range append(files, links...) {
		e := t.entries[p]
		hdr := &tar.Header{
			Typeflag: e.typ,
			Name:     p,
			Linkname: e.link,
			Mode:     e.mode,
			Uid:      e.uid,
			Gid:      e.gid,
			ModTime:  Epoch,
			Format:   tar.FormatPAX,
		}
		switch e.typ {
		case tar.TypeDir:
			hdr.Name += "/"
		case tar.TypeReg:
			hdr.Size = int64(len(e.data))
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("writing tar header for %s: %w", p, err)
		}
		if e.typ == tar.TypeReg {
			if _, err := tw.Write(e.data); err != nil {
				return fmt.Errorf("writing %s: %w", p, err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("closing tar: %w", err)
	}
	return nil
}

// Layer returns the tree as a gzip-compressed OCI layer. Compression is
// done here, with no gzip header timestamp or name, so the digest depends
// only on the tree.
func (t *Tree) Layer() (v1.Layer, error) {
	var compressed bytes.Buffer
	zw, err := gzip.NewWriterLevel(&compressed, gzip.BestCompression)
	if err != nil {
		return nil, fmt.Errorf("starting gzip: %w", err)
	}
	if err := t.WriteTar(zw); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("finishing gzip: %w", err)
	}
	blob := compressed.Bytes()
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(blob)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, fmt.Errorf("making layer: %w", err)
	}
	return layer, nil
}

// ReadTarTree loads a tar stream into a tree, keeping directories,
// regular files and symlinks with their modes. Hard links become copies
// of the file they name. Other entry types (devices, fifos) are skipped:
// no image here needs them.
func ReadTarTree(r io.Reader) (*Tree, error) {
	t := NewTree()
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return t, nil
		}
		if err != nil {
			return nil, fmt.Errorf("reading tar: %w", err)
		}
		name := cleanPath(hdr.Name)
		if name == "" {
			continue
		}
		mode := hdr.Mode & 0o7777
		switch hdr.Typeflag {
		case tar.TypeDir:
			t.Dir(name, mode)
		case tar.TypeReg:
			data, err := io.ReadAll(tr)
			if err != nil {
				return nil, fmt.Errorf("reading %s: %w", name, err)
			}
			t.File(name, mode, data)
		case tar.TypeSymlink:
			t.Symlink(name, hdr.Linkname)
		case tar.TypeLink:
			target, ok := t.lookup(hdr.Linkname)
			if !ok {
				return nil, fmt.Errorf("hard link %s to missing %s", name, hdr.Linkname)
			}
			copied := *target
			t.put(name, &copied)
		}
	}
}
