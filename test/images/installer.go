package images

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// InstallerDebs are the Debian packages the DaemonSet installer's image is
// made from: the busybox base's, and bash, which hack/install.sh and
// install-on-node.sh are written in.
var InstallerDebs = []string{"busybox", "libc6", "util-linux", "bash", "libtinfo6"}

// InstallerEntrypoint is the installer's script in the image, as
// deploy/kubernetes/Dockerfile sets it.
const InstallerEntrypoint = "/berth/deploy/kubernetes/install-on-node.sh"

// installShim stands in for coreutils' install(1), which busybox lacks,
// with the one form hack/install.sh uses: install -m MODE SOURCE DEST. As
// install(1) does, it replaces DEST with a new file (a rename) rather than
// writing into it, so a running berthd or containerd is never overwritten.
const installShim = `#!/bin/sh
# install -m MODE SOURCE DEST: busybox has no install(1); see test/images/installer.go.
set -e
[ "$1" = -m ] && [ $# -eq 4 ] || { echo "install: only 'install -m MODE SOURCE DEST' is supported" >&2; exit 2; }
tmp="$(mktemp "$4.install.XXXXXX")"
trap 'rm -f "$tmp"' EXIT
cat "$3" >"$tmp"
chmod "$2" "$tmp"
mv -f "$tmp" "$4"
trap - EXIT
`

// InstallerImage is the DaemonSet installer's image (deploy/kubernetes),
// built without Docker: what deploy/kubernetes/Dockerfile describes, with
// the busybox base and Debian's bash in place of debian:12-slim, and the
// build context that `make installer-context` stages (contextDir) under
// /berth. ref names it in its label.
func InstallerImage(ctx context.Context, in Inputs, contextDir, ref string) (v1.Image, error) {
	p := &parts{ctx: ctx, in: in, memo: map[string]v1.Layer{}, ref: ref}
	base, err := p.busybox()
	if err != nil {
		return nil, err
	}
	sh, err := p.bash()
	if err != nil {
		return nil, err
	}
	tools, err := p.layer("install-shim", func() (*Tree, error) {
		t := NewTree()
		t.File("usr/bin/install", 0o755, []byte(installShim))
		// The scripts' #!/usr/bin/env bash; busybox's applets are in /bin.
		t.Symlink("usr/bin/env", "/bin/env")
		return t, nil
	})
	if err != nil {
		return nil, err
	}
	berth, err := p.layer("context", func() (*Tree, error) { return dirTree(contextDir, "berth") })
	if err != nil {
		return nil, err
	}
	cfg := p.baseConfig()
	cfg.Entrypoint = []string{InstallerEntrypoint}
	return p.image(cfg, base, sh, layerSpec{tools, "berth: install(1) shim, /usr/bin/env"},
		layerSpec{berth, "berth: COPY . /berth/"})
}

// dirTree copies the regular files, directories and symlinks below dir
// into a tree under prefix, with their permission bits, owned by root.
func dirTree(dir, prefix string) (*Tree, error) {
	t := NewTree()
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		dest := filepath.ToSlash(filepath.Join(prefix, rel))
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			t.Dir(dest, int64(info.Mode().Perm()))
		case info.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(path)
			if err != nil {
				return err
			}
			t.Symlink(dest, target)
		case info.Mode().IsRegular():
			data, err := os.ReadFile(path) //nolint:gosec // the project's own staged build directory, made by this program, not a path a user controls
			if err != nil {
				return err
			}
			t.File(dest, int64(info.Mode().Perm()), data)
		default:
			return fmt.Errorf("%s: not a file, directory or symlink", path)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading the build context %s: %w", dir, err)
	}
	return t, nil
}
