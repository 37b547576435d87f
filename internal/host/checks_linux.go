package host

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
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

// Check verifies that the node, whose facts Detect read, can run Berth,
// and reports everything missing at once, so an operator fixes it in one
// go.
func Check(node Facts, req Requirements) error {
	var problems []string
	if os.Geteuid() != 0 {
		problems = append(problems, "berthd must run as root")
	}
	if err := checkKernel(node); err != nil {
		problems = append(problems, err.Error())
	}
	if err := ensureFilesystem("overlay", hasFilesystem, modprobe); err != nil {
		problems = append(problems, err.Error())
	}
	if err := checkCgroups(node); err != nil {
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

func checkKernel(node Facts) error {
	if node.Kernel == [2]int{} {
		return fmt.Errorf("cannot parse kernel release %q", node.KernelRelease)
	}
	if !node.KernelAtLeast(minKernel) {
		return fmt.Errorf("kernel %s is older than %d.%d", node.KernelRelease, minKernel[0], minKernel[1])
	}
	return nil
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
func checkCgroups(node Facts) error {
	if node.CgroupV2 {
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
