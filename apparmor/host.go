package apparmor

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"

	"github.com/containerd/containerd/v2/core/containers"
	"github.com/containerd/containerd/v2/pkg/oci"
	"github.com/containerd/errdefs"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Where the kernel and the distribution keep AppArmor's state.
const (
	profilesFile = "/sys/kernel/security/apparmor/profiles"
	policyDir    = "/etc/apparmor.d"
	currentAttr  = "/proc/self/attr/current"
)

// Host is this node's AppArmor.
type Host struct {
	// Enabled says containers are confined: the kernel enforces AppArmor
	// and apparmor_parser is there to load berth-default (containerd's
	// HostSupports). Without the parser Berth runs containers unconfined,
	// as containerd does, rather than fail every one (Degraded says why).
	Enabled bool
	// Degraded is empty, or says why a kernel that enforces AppArmor
	// confines no container here.
	Degraded string
	// ProfilesFile lists the loaded profiles, one "name (mode)" a line.
	ProfilesFile string
	// PolicyDir is where abstractions and tunables are looked for.
	PolicyDir string
	// Parser loads a profile into the kernel.
	Parser string
	// Dir holds the generated profile while the parser reads it; empty
	// means the system's temporary directory.
	Dir string

	// run runs the parser; tests fake it.
	run func(ctx context.Context, name string, args ...string) ([]byte, error)
	// loadMu serialises loading berth-default: two containers created at
	// once must not both run the parser.
	loadMu sync.Mutex
}

// parserDirs are where distributions install apparmor_parser, searched
// besides PATH: systemd gives services a PATH with them, a shell may not.
var parserDirs = []string{"/sbin", "/usr/sbin"}

// Detect returns the node's AppArmor, with the generated profile written
// under dir; kernel says whether the kernel enables AppArmor (host.Facts).
func Detect(kernel bool, dir string) *Host {
	return detect(kernel, func() (string, error) { return lookParser(parserDirs) }, dir)
}

// detect decides from the kernel's answer and the parser's lookup.
func detect(kernel bool, lookParser func() (string, error), dir string) *Host {
	h := &Host{ProfilesFile: profilesFile, PolicyDir: policyDir, Parser: "apparmor_parser", Dir: dir}
	if !kernel {
		return h
	}
	parser, err := lookParser()
	if err != nil {
		h.Degraded = "the kernel enforces AppArmor but apparmor_parser is not installed (the apparmor package): containers run unconfined"
		return h
	}
	h.Enabled, h.Parser = true, parser
	return h
}

// lookParser finds apparmor_parser on PATH or in dirs.
func lookParser(dirs []string) (string, error) {
	if p, err := exec.LookPath("apparmor_parser"); err == nil {
		return p, nil
	}
	for _, d := range dirs {
		p := filepath.Join(d, "apparmor_parser")
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("apparmor_parser: %w", exec.ErrNotFound)
}

// ContainerOpts returns the option setting the container's AppArmor
// profile. A Localhost profile must be loaded already (FailedPrecondition
// otherwise); berth-default is loaded by the option, when the spec is
// built, if the kernel lacks it. A nil Host is a node without AppArmor.
func (h *Host) ContainerOpts(sc *runtimeapi.LinuxContainerSecurityContext) (oci.SpecOpts, error) {
	if h == nil {
		h = detect(false, nil, "")
	}
	//nolint:staticcheck // The deprecated string still arrives from older kubelets and crictl.
	p, err := Resolve(sc.GetApparmor(), sc.GetApparmorProfile(), sc.GetPrivileged(), h.Enabled)
	if err != nil && h.Degraded != "" {
		return nil, fmt.Errorf("%w (%s)", err, h.Degraded)
	}
	if err != nil {
		return nil, err
	}
	switch p.Kind {
	case RuntimeDefault:
		return func(ctx context.Context, client oci.Client, c *containers.Container, s *oci.Spec) error {
			if err := h.ensureDefault(ctx); err != nil {
				return err
			}
			return oci.WithApparmorProfile(p.Name)(ctx, client, c, s)
		}, nil
	case Localhost:
		loaded, err := h.loaded(p.Name)
		if err != nil {
			return nil, err
		}
		if !loaded {
			return nil, fmt.Errorf("AppArmor profile %q is not loaded on this node: %w", p.Name, errdefs.ErrFailedPrecondition)
		}
	}
	return oci.WithApparmorProfile(p.Name), nil
}

// loaded reports whether the kernel has a profile of that name.
func (h *Host) loaded(name string) (bool, error) {
	f, err := os.Open(h.ProfilesFile)
	if errors.Is(err, fs.ErrNotExist) {
		return false, fmt.Errorf("AppArmor profiles list %s is missing (is securityfs mounted?): %w", h.ProfilesFile, errdefs.ErrFailedPrecondition)
	}
	if err != nil {
		return false, fmt.Errorf("AppArmor profiles list: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// "name (enforce)": match the whole name, not a prefix of
		// another profile's.
		if strings.HasPrefix(sc.Text(), name+" (") {
			return true, nil
		}
	}
	return false, sc.Err()
}

// ensureDefault loads berth-default unless the kernel has it. A loaded
// one is left alone, so an operator's edited version stays in force.
func (h *Host) ensureDefault(ctx context.Context) error {
	h.loadMu.Lock()
	defer h.loadMu.Unlock()
	ok, err := h.loaded(DefaultProfileName)
	if err != nil || ok {
		return err
	}
	text, err := generate(hostTemplateData(DefaultProfileName, h.PolicyDir, currentAttr))
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(h.Dir, "berth-default-*.apparmor")
	if err != nil {
		return fmt.Errorf("write AppArmor profile %s: %w", DefaultProfileName, err)
	}
	defer os.Remove(f.Name())
	_, err = f.Write(text)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write AppArmor profile %s: %w", DefaultProfileName, err)
	}
	run := h.run
	if run == nil {
		run = func(ctx context.Context, name string, args ...string) ([]byte, error) {
			return exec.CommandContext(ctx, name, args...).CombinedOutput()
		}
	}
	// -K: no cache (the text is ours and small); -r: replace or add.
	if out, err := run(ctx, h.Parser, "-Kr", f.Name()); err != nil {
		return fmt.Errorf("load AppArmor profile %s with %s: %v: %s: %w",
			DefaultProfileName, h.Parser, err, strings.TrimSpace(string(out)), errdefs.ErrFailedPrecondition)
	}
	return nil
}
