package host

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// minKernel is the oldest kernel Kubernetes supports for its node features
// (cgroup v1/v2, overlayfs with redirect_dir, pidfd).
var minKernel = [2]int{4, 19}

// Requirements lists what Check must find.
type Requirements struct {
	// Binaries are required executables by name or path; missing ones are
	// named in the error.
	Binaries []string
	// SearchDirs are looked in, in order, before PATH.
	SearchDirs []string
}

// Check verifies the node can run Berth and reports everything missing at
// once, so an operator fixes it in one go.
func Check(req Requirements) error {
	var problems []string
	if os.Geteuid() != 0 {
		problems = append(problems, "berthd must run as root")
	}
	if err := checkKernel(); err != nil {
		problems = append(problems, err.Error())
	}
	if err := ensureFilesystem("overlay", hasFilesystem, modprobe); err != nil {
		problems = append(problems, err.Error())
	}
	if err := checkCgroups(); err != nil {
		problems = append(problems, err.Error())
	}
	for _, b := range req.Binaries {
		if _, err := LookPath(b, req.SearchDirs...); err != nil {
			problems = append(problems, err.Error())
		}
	}
	if len(problems) > 0 {
		return errors.New("node is not ready for berthd:\n  - " + strings.Join(problems, "\n  - "))
	}
	return nil
}

func checkKernel() error {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return fmt.Errorf("uname: %w", err)
	}
	release := unix.ByteSliceToString(u.Release[:])
	major, minor, ok := parseKernel(release)
	if !ok {
		return fmt.Errorf("cannot parse kernel release %q", release)
	}
	if major < minKernel[0] || (major == minKernel[0] && minor < minKernel[1]) {
		return fmt.Errorf("kernel %s is older than %d.%d", release, minKernel[0], minKernel[1])
	}
	return nil
}

// idmappedOverlayKernel is the first kernel whose overlayfs takes idmapped
// lower layers, which a pod's user namespace needs for its rootfs.
var idmappedOverlayKernel = [2]int{5, 19}

// UserNamespacesSupported reports whether pods can get user namespaces of
// their own here: the kernel idmaps overlayfs layers (containerd's overlayfs
// snapshotter then mounts them so) and bind mounts (runc does those).
func UserNamespacesSupported() bool { return kernelAtLeast(idmappedOverlayKernel) }

// RecursiveReadOnlySupported reports whether the kernel can make a mount
// read-only with all its submounts: mount_setattr (Linux 5.12), which
// runtimes need for the "rro" mount option.
func RecursiveReadOnlySupported() bool { return kernelAtLeast([2]int{5, 12}) }

func kernelAtLeast(v [2]int) bool {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return false
	}
	major, minor, ok := parseKernel(unix.ByteSliceToString(u.Release[:]))
	return ok && (major > v[0] || (major == v[0] && minor >= v[1]))
}

func parseKernel(release string) (major, minor int, ok bool) {
	parts := strings.SplitN(release, ".", 3)
	if len(parts) < 2 {
		return 0, 0, false
	}
	major, err1 := strconv.Atoi(parts[0])
	minorDigits := strings.TrimRightFunc(parts[1], func(r rune) bool { return r < '0' || r > '9' })
	minor, err2 := strconv.Atoi(minorDigits)
	return major, minor, err1 == nil && err2 == nil
}

// ensureFilesystem makes sure the kernel has the filesystem name, loading
// its module if need be: Debian ships overlay as a module that nothing
// loads before berthd checks (containerd's unit runs modprobe first; so do
// Berth's, and this covers a berthd started otherwise).
func ensureFilesystem(name string, has func(string) bool, load func(string) error) error {
	if has(name) {
		return nil
	}
	err := load(name)
	if has(name) {
		return nil
	}
	if err == nil {
		err = errors.New("the module loaded but the filesystem is still missing")
	}
	return fmt.Errorf("the kernel has no %s filesystem, and loading its module failed (%v): build it in or install its module (modprobe %s)", name, err, name)
}

// modprobeDirs are where modprobe is, besides PATH.
var modprobeDirs = []string{"/sbin", "/usr/sbin"}

// modprobe loads a kernel module.
func modprobe(module string) error {
	bin, err := LookPath("modprobe", modprobeDirs...)
	if err != nil {
		return err
	}
	if out, err := exec.Command(bin, module).CombinedOutput(); err != nil {
		return fmt.Errorf("%s %s: %v: %s", bin, module, err, strings.TrimSpace(string(out)))
	}
	return nil
}

func hasFilesystem(name string) bool {
	data, err := os.ReadFile("/proc/filesystems")
	if err != nil {
		return false
	}
	s := bufio.NewScanner(bytes.NewReader(data))
	for s.Scan() {
		f := strings.Fields(s.Text())
		if len(f) > 0 && f[len(f)-1] == name {
			return true
		}
	}
	return false
}

// checkCgroups accepts a unified (v2) hierarchy or v1 with the controllers
// kubelet's resource management needs.
func checkCgroups() error {
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		return nil
	}
	var missing []string
	for _, c := range []string{"cpu", "cpuacct", "memory", "pids", "devices", "freezer"} {
		if _, err := os.Stat(filepath.Join("/sys/fs/cgroup", c)); err != nil {
			missing = append(missing, c)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("cgroup v1 controllers not mounted under /sys/fs/cgroup: %s", strings.Join(missing, ", "))
	}
	return nil
}

// LookPath finds a binary: an absolute path must exist and be executable; a
// name is looked for in dirs, then next to berthd's own executable, then in
// PATH. Shipping Berth's binaries side by side then just works.
func LookPath(name string, dirs ...string) (string, error) {
	if filepath.IsAbs(name) {
		if isExecutable(name) {
			return name, nil
		}
		return "", fmt.Errorf("%s: not an executable file", name)
	}
	if self, err := os.Executable(); err == nil {
		dirs = append(dirs, filepath.Dir(self))
	}
	for _, d := range dirs {
		if p := filepath.Join(d, name); isExecutable(p) {
			return p, nil
		}
	}
	p, err := exec.LookPath(name)
	if err != nil {
		return "", fmt.Errorf("%s not found next to berthd, in %v, or in PATH", name, dirs)
	}
	return filepath.Abs(p)
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}
