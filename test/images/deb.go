package images

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"sort"
)

// ReadDeb loads the files of a Debian package into a tree. It asks
// dpkg-deb for the package's file system tar, so it reads every
// compression Debian uses without a decompressor of our own.
func ReadDeb(ctx context.Context, debPath string) (*Tree, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "dpkg-deb", "--fsys-tarfile", debPath)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("dpkg-deb --fsys-tarfile %s: %w: %s", debPath, err, stderr.Bytes())
	}
	t, err := ReadTarTree(&stdout)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", debPath, err)
	}
	return t, nil
}

// FindDeb returns the one .deb of package pkg in dir (named as apt-get
// download names them: pkg_version_arch.deb).
func FindDeb(dir, pkg string) (string, error) {
	matches, err := filepath.Glob(filepath.Join(dir, pkg+"_*.deb"))
	if err != nil {
		return "", fmt.Errorf("looking for %s in %s: %w", pkg, dir, err)
	}
	switch len(matches) {
	case 0:
		return "", fmt.Errorf("no %s_*.deb in %s (run hack/images.sh to download it)", pkg, dir)
	case 1:
		return matches[0], nil
	default:
		sort.Strings(matches)
		return "", fmt.Errorf("several %s packages in %s, keep one: %v", pkg, dir, matches)
	}
}
