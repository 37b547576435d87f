package deploy

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/berth-cri/berth/internal/config"
)

// installer runs hack/install.sh, as make install and make uninstall do,
// into a DESTDIR of its own: never into the real root.
type installer struct {
	t       *testing.T
	destdir string
	env     []string
}

func newInstaller(t *testing.T, env ...string) *installer {
	t.Helper()
	// The real berthd, which writes the default config, reached through a
	// symlink as _output/bin's pinned binaries are; small stand-ins for the
	// rest, whose content install.sh only copies (and 180 MB of them per
	// install would make these tests slow).
	src := t.TempDir()
	if err := os.MkdirAll(filepath.Join(src, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(builtBinary(t, "berthd"), filepath.Join(src, "bin", "berthd")); err != nil {
		t.Fatal(err)
	}
	for _, b := range []string{"bin/berth-pause", "bin/containerd", "bin/containerd-shim-runc-v2", "bin/runc", "bin/crictl",
		"cni/bridge", "cni/host-local", "cni/loopback", "cni/portmap"} {
		writeFile(t, filepath.Join(src, b), "#!/bin/sh\necho "+filepath.Base(b)+"\n")
		if err := os.Chmod(filepath.Join(src, b), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	destdir := filepath.Join(t.TempDir(), "root")
	return &installer{t: t, destdir: destdir, env: append([]string{
		"DESTDIR=" + destdir, "SRC_BIN=" + filepath.Join(src, "bin"), "SRC_CNI_BIN=" + filepath.Join(src, "cni"),
	}, env...)}
}

func (in *installer) run(verb string) string {
	in.t.Helper()
	cmd := exec.Command("../hack/install.sh", verb)
	cmd.Env = append(os.Environ(), in.env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		in.t.Fatalf("install.sh %s: %v\n%s", verb, err, out)
	}
	return string(out)
}

// files lists every file and symlink under DESTDIR, as paths on the node.
func (in *installer) files() []string {
	in.t.Helper()
	var list []string
	err := filepath.WalkDir(in.destdir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			list = append(list, strings.TrimPrefix(path, in.destdir))
		}
		return nil
	})
	if err != nil && !os.IsNotExist(err) {
		in.t.Fatal(err)
	}
	return list
}

func (in *installer) read(path string) string {
	in.t.Helper()
	data, err := os.ReadFile(filepath.Join(in.destdir, path))
	if err != nil {
		in.t.Fatal(err)
	}
	return string(data)
}

func (in *installer) write(path, text string) {
	in.t.Helper()
	writeFile(in.t, filepath.Join(in.destdir, path), text)
}

// dirs lists the directories under DESTDIR (itself excluded).
func (in *installer) dirs() []string {
	in.t.Helper()
	var list []string
	err := filepath.WalkDir(in.destdir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != in.destdir {
			list = append(list, strings.TrimPrefix(path, in.destdir))
		}
		return nil
	})
	if err != nil {
		in.t.Fatal(err)
	}
	return list
}

var fullInstall = []string{
	"/etc/berth/config.toml",
	"/etc/cni/net.d/10-berth.conflist",
	"/etc/crictl.yaml",
	"/opt/cni/bin/bridge",
	"/opt/cni/bin/host-local",
	"/opt/cni/bin/loopback",
	"/opt/cni/bin/portmap",
	"/usr/local/bin/berth-pause",
	"/usr/local/bin/berthd",
	"/usr/local/bin/containerd",
	"/usr/local/bin/containerd-shim-runc-v2",
	"/usr/local/bin/crictl",
	"/usr/local/bin/runc",
	"/usr/local/lib/berth/installed",
	"/usr/local/lib/systemd/system/berth-external-containerd.service",
	"/usr/local/lib/systemd/system/berth.service",
}

func TestInstallOnAFreshNodeAndUninstallLeavesNothing(t *testing.T) {
	t.Parallel() // each copies the binaries: I/O, not CPU
	in := newInstaller(t)
	in.run("install")
	if got := in.files(); !slices.Equal(got, fullInstall) {
		t.Fatalf("installed files:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(fullInstall, "\n"))
	}
	for _, bin := range []string{"/usr/local/bin/berthd", "/usr/local/bin/runc", "/opt/cni/bin/bridge"} {
		if info, err := os.Stat(filepath.Join(in.destdir, bin)); err != nil || info.Mode().Perm() != 0o755 {
			t.Errorf("%s: %v, mode %v; want an executable", bin, err, info.Mode())
		}
	}
	// The config is berthd's own default, and berthd loads it strictly.
	out, err := exec.Command(filepath.Join(in.destdir, "/usr/local/bin/berthd"), "config", "default").Output()
	if err != nil {
		t.Fatal(err)
	}
	if got := in.read("/etc/berth/config.toml"); got != string(out) {
		t.Errorf("config.toml is not berthd config default:\n%s", got)
	}
	if _, err := config.Load(filepath.Join(in.destdir, "/etc/berth/config.toml")); err != nil {
		t.Errorf("installed config does not load: %v", err)
	}
	if got := in.read("/etc/crictl.yaml"); !strings.Contains(got, "runtime-endpoint: unix:///run/berth/berth.sock") {
		t.Errorf("crictl.yaml does not point at berthd:\n%s", got)
	}
	if !strings.Contains(in.read("/usr/local/lib/systemd/system/berth.service"), "ExecStart=/usr/local/bin/berthd ") {
		t.Error("berth.service does not run the installed berthd")
	}

	// An upgrade: a second install over the first, then one uninstall.
	in.run("install")
	if got := in.files(); !slices.Equal(got, fullInstall) {
		t.Fatalf("after a second install:\n%s", strings.Join(got, "\n"))
	}
	in.run("uninstall")
	if files, dirs := in.files(), in.dirs(); len(files)+len(dirs) > 0 {
		t.Fatalf("uninstall left files %q and directories %q", files, dirs)
	}
}

func TestInstallKeepsWhatTheNodeHas(t *testing.T) {
	t.Parallel() // each copies the binaries: I/O, not CPU
	in := newInstaller(t)
	mine := map[string]string{
		"/etc/berth/config.toml":           "log_level = \"debug\"\n",
		"/etc/cni/net.d/05-other.conflist": `{"cniVersion":"1.0.0","name":"other","plugins":[{"type":"bridge"}]}`,
		"/etc/crictl.yaml":                 "runtime-endpoint: unix:///run/containerd/containerd.sock\n",
		"/usr/local/bin/kubectl":           "#!/bin/sh\n",
	}
	for path, text := range mine {
		in.write(path, text)
	}
	out := in.run("install")
	for path, text := range mine {
		if got := in.read(path); got != text {
			t.Errorf("install changed %s:\n%s", path, got)
		}
	}
	if _, err := os.Stat(filepath.Join(in.destdir, "/etc/cni/net.d/10-berth.conflist")); err == nil {
		t.Error("10-berth.conflist was installed beside the node's own network config")
	}
	if !strings.Contains(out, "kept /etc/berth/config.toml") {
		t.Errorf("install did not say it kept the config:\n%s", out)
	}

	in.run("uninstall")
	var want []string
	for path := range mine {
		want = append(want, path)
	}
	slices.Sort(want)
	if got := in.files(); !slices.Equal(got, want) {
		t.Errorf("after uninstall:\n%s\nwant only the node's own files:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestUninstallKeepsAnEditedConfig(t *testing.T) {
	t.Parallel() // each copies the binaries: I/O, not CPU
	in := newInstaller(t)
	in.run("install")
	edited := in.read("/etc/berth/config.toml") + "\n# this node logs more\nlog_level = 'debug'\n"
	in.write("/etc/berth/config.toml", edited)
	out := in.run("uninstall")
	if got := in.files(); !slices.Equal(got, []string{"/etc/berth/config.toml"}) {
		t.Errorf("uninstall left %q, want only the edited config", got)
	}
	if in.read("/etc/berth/config.toml") != edited {
		t.Error("the edited config changed")
	}
	if !strings.Contains(out, "kept /etc/berth/config.toml: it changed since it was installed") {
		t.Errorf("uninstall did not name the kept config:\n%s", out)
	}
}

func TestInstallHonoursPrefixAndAGivenConfig(t *testing.T) {
	t.Parallel() // each copies the binaries: I/O, not CPU
	given := filepath.Join(t.TempDir(), "config.toml")
	writeFile(t, given, "[containerd]\naddress = '/run/containerd/containerd.sock'\n")
	in := newInstaller(t, "PREFIX=/usr", "CRICTL_YAML=no", "BERTH_CONFIG="+given)
	in.write("/etc/berth/config.toml", "log_level = 'debug'\n")
	in.run("install")
	for _, path := range []string{"/usr/bin/berthd", "/usr/lib/systemd/system/berth.service", "/usr/lib/berth/installed"} {
		if _, err := os.Stat(filepath.Join(in.destdir, path)); err != nil {
			t.Errorf("PREFIX=/usr: %v", err)
		}
	}
	unit := in.read("/usr/lib/systemd/system/berth-external-containerd.service")
	if !strings.Contains(unit, "ExecStart=/usr/bin/berthd ") {
		t.Errorf("the unit does not run /usr/bin/berthd:\n%s", unit)
	}
	if got := in.read("/etc/berth/config.toml"); !strings.Contains(got, "/run/containerd/containerd.sock") {
		t.Errorf("BERTH_CONFIG did not replace the config:\n%s", got)
	}
	if _, err := os.Stat(filepath.Join(in.destdir, "/etc/crictl.yaml")); err == nil {
		t.Error("CRICTL_YAML=no wrote /etc/crictl.yaml")
	}
	in.run("uninstall")
	if files := in.files(); len(files) > 0 {
		t.Errorf("uninstall left %q", files)
	}
}

// TestInstallWithCrun: CRUN=yes adds a crun runtime handler to the config
// it writes, which berthd loads, and refuses a node without crun.
func TestInstallWithCrun(t *testing.T) {
	t.Parallel() // each copies the binaries: I/O, not CPU
	in := newInstaller(t, "CRUN=yes")
	cmd := exec.Command("../hack/install.sh", "install")
	cmd.Env = append(os.Environ(), in.env...)
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "apt-get install crun") {
		t.Fatalf("CRUN=yes without crun on the node: %v\n%s", err, out)
	}
	in.write("/usr/bin/crun", "#!/bin/sh\n")
	if err := os.Chmod(filepath.Join(in.destdir, "/usr/bin/crun"), 0o755); err != nil {
		t.Fatal(err)
	}
	in.run("install")
	cfg, err := config.Load(filepath.Join(in.destdir, "/etc/berth/config.toml"))
	if err != nil {
		t.Fatalf("installed config does not load: %v", err)
	}
	if r, ok := cfg.Runtimes["crun"]; !ok || r.Binary != "crun" || cfg.DefaultRuntime != "runc" || cfg.Validate() != nil {
		t.Errorf("runtimes %+v, default %q, valid: %v; want crun beside the default runc", cfg.Runtimes, cfg.DefaultRuntime, cfg.Validate())
	}
}
