package images

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
)

// imagePath is the PATH set in every image's config.
const imagePath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// nsswitchConf makes glibc read users, groups and hosts from /etc, which
// is all these images have.
const nsswitchConf = `passwd:         files
group:          files
shadow:         files
hosts:          files dns
networks:       files
protocols:      files
services:       files
`

// busyboxTree is the root file system the busybox-based images share:
// Debian's dynamically linked busybox with an applet link for each of its
// commands in /bin, the glibc it needs, util-linux's ipcs and our pgrep
// (Debian's busybox has neither), the upstream busybox image's accounts,
// and the usual empty directories.
//
// Dynamic busybox matters: its shell finds commands through PATH, so a
// masked /bin/ls fails as critest's MaskedPaths spec expects, where a
// static busybox's shell would run its built-in ls. The applets are hard
// links, as in the upstream image, so masking one name does not mask
// busybox itself.
func busyboxTree(ctx context.Context, in Inputs) (*Tree, error) {
	debs := map[string]*Tree{}
	for _, pkg := range []string{"busybox", "libc6", "util-linux"} {
		deb, err := FindDeb(in.DebDir, pkg)
		if err != nil {
			return nil, err
		}
		tree, err := ReadDeb(ctx, deb)
		if err != nil {
			return nil, err
		}
		debs[pkg] = tree
	}
	libc := debs["libc6"]

	t := NewTree()
	for _, d := range []struct {
		path string
		mode int64
	}{
		{"bin", 0o755}, {"sbin", 0o755}, {"usr/bin", 0o755}, {"usr/sbin", 0o755},
		{"usr/local/bin", 0o755}, {"usr/local/sbin", 0o755},
		{"etc", 0o755}, {"dev", 0o755}, {"proc", 0o555}, {"sys", 0o555},
		{"tmp", 0o1777}, {"root", 0o700}, {"home", 0o755},
		{"var", 0o755}, {"var/run", 0o755}, {"var/log", 0o755}, {"var/tmp", 0o1777},
		{"var/www", 0o755}, {"var/spool/mail", 0o755},
	} {
		t.Dir(d.path, d.mode)
	}

	if err := CopyWithLibs(t, debs["busybox"], "bin/busybox", libc); err != nil {
		return nil, fmt.Errorf("busybox: %w", err)
	}
	applets, err := listApplets(ctx, t, "bin/busybox")
	if err != nil {
		return nil, err
	}
	for _, a := range applets {
		p := path.Join("bin", a)
		if _, taken := t.lookup(p); taken {
			continue
		}
		if err := t.HardLink(p, "bin/busybox"); err != nil {
			return nil, err
		}
	}

	if err := CopyWithLibs(t, debs["util-linux"], "usr/bin/ipcs", libc); err != nil {
		return nil, fmt.Errorf("ipcs: %w", err)
	}
	pgrep, err := in.program("pgrep")
	if err != nil {
		return nil, err
	}
	t.File("bin/pgrep", 0o755, pgrep)

	t.File("etc/passwd", 0o644, PasswdFile(busyboxUsers))
	t.File("etc/group", 0o644, GroupFile(busyboxGroups))
	t.File("etc/nsswitch.conf", 0o644, []byte(nsswitchConf))
	return t, nil
}

// listApplets asks busybox which commands it has. It runs the binary
// through the program interpreter copied into t, with t's libraries, so
// the answer does not depend on the host's glibc.
func listApplets(ctx context.Context, t *Tree, bin string) ([]string, error) {
	dir, err := os.MkdirTemp("", "berth-busybox-")
	if err != nil {
		return nil, fmt.Errorf("listing applets: %w", err)
	}
	defer os.RemoveAll(dir)

	data, err := t.ReadFile(bin)
	if err != nil {
		return nil, err
	}
	interp, _, err := elfDeps(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", bin, err)
	}
	var libPaths []string
	for _, p := range t.Paths() {
		e := t.entries[p]
		if e.typ != tar.TypeReg || !strings.Contains(path.Base(p), ".so") {
			continue
		}
		host := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(host), 0o755); err != nil {
			return nil, fmt.Errorf("listing applets: %w", err)
		}
		if err := os.WriteFile(host, e.data, 0o755); err != nil {
			return nil, fmt.Errorf("listing applets: %w", err)
		}
		libPaths = appendUnique(libPaths, filepath.Dir(host))
	}
	prog := filepath.Join(dir, "busybox")
	if err := os.WriteFile(prog, data, 0o755); err != nil {
		return nil, fmt.Errorf("listing applets: %w", err)
	}
	_, loader, err := t.resolve(interp)
	if err != nil {
		return nil, fmt.Errorf("program interpreter %s: %w", interp, err)
	}
	loaderPath := filepath.Join(dir, "ld.so")
	if err := os.WriteFile(loaderPath, loader.data, 0o755); err != nil {
		return nil, fmt.Errorf("listing applets: %w", err)
	}

	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, loaderPath, "--library-path", strings.Join(libPaths, ":"), prog, "--list")
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("busybox --list: %w: %s", err, stderr.Bytes())
	}
	applets := strings.Fields(stdout.String())
	if len(applets) < 50 {
		return nil, fmt.Errorf("busybox --list gave only %d applets", len(applets))
	}
	return applets, nil
}

func appendUnique(list []string, s string) []string {
	for _, v := range list {
		if v == s {
			return list
		}
	}
	return append(list, s)
}
