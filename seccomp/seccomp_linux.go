package seccomp

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"

	"github.com/containerd/containerd/v2/core/containers"
	"github.com/containerd/containerd/v2/pkg/oci"
	"github.com/containerd/errdefs"
	mobyseccomp "github.com/moby/profiles/seccomp"
	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// read returns the body of the Localhost profile at path, which must be a
// regular file inside r.Root (symlinks are followed only while they stay
// inside) holding a JSON seccomp profile.
func (r Resolver) read(path string) ([]byte, error) {
	rel, err := inRoot(r.Root, path)
	if err != nil {
		return nil, err
	}
	root, err := os.OpenRoot(r.Root)
	if err != nil {
		return nil, fmt.Errorf("seccomp profile %q: profile root: %v: %w", path, err, errdefs.ErrInvalidArgument)
	}
	defer root.Close()
	// O_NONBLOCK: a FIFO planted in the root must not hang CreateContainer.
	f, err := root.OpenFile(rel, os.O_RDONLY|unix.O_NONBLOCK|unix.O_NOCTTY, 0)
	if err != nil {
		return nil, fmt.Errorf("seccomp profile %q: %v: %w", path, err, errdefs.ErrInvalidArgument)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("seccomp profile %q: %v: %w", path, err, errdefs.ErrInvalidArgument)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("seccomp profile %q is not a regular file: %w", path, errdefs.ErrInvalidArgument)
	}
	body, err := io.ReadAll(io.LimitReader(f, maxProfileSize+1))
	if err != nil {
		return nil, fmt.Errorf("seccomp profile %q: %v: %w", path, err, errdefs.ErrInvalidArgument)
	}
	if len(body) > maxProfileSize {
		return nil, fmt.Errorf("seccomp profile %q is larger than %d bytes: %w", path, maxProfileSize, errdefs.ErrInvalidArgument)
	}
	var profile mobyseccomp.Seccomp
	if err := json.Unmarshal(body, &profile); err != nil {
		return nil, fmt.Errorf("seccomp profile %q is not a valid JSON profile: %v: %w", path, err, errdefs.ErrInvalidArgument)
	}
	if profile.DefaultAction == "" {
		return nil, fmt.Errorf("seccomp profile %q has no defaultAction: %w", path, errdefs.ErrInvalidArgument)
	}
	return body, nil
}

// withDefaultProfile sets the built-in profile, for the capabilities the
// spec has by now.
func withDefaultProfile(_ context.Context, _ oci.Client, _ *containers.Container, s *oci.Spec) error {
	sc, err := mobyseccomp.GetDefaultProfile(withCapabilities(s))
	if err != nil {
		return fmt.Errorf("default seccomp profile: %w", err)
	}
	setSeccomp(s, sc)
	return nil
}

// withSandboxProfile sets the default profile for no capabilities on the
// native architecture (the first of the profile's list, its sub-arches
// (such as 32-bit x86 on x86-64) left out).
func withSandboxProfile(_ context.Context, _ oci.Client, _ *containers.Container, s *oci.Spec) error {
	none := &specs.Spec{Process: &specs.Process{Capabilities: &specs.LinuxCapabilities{}}}
	sc, err := mobyseccomp.GetDefaultProfile(none)
	if err != nil {
		return fmt.Errorf("default seccomp profile: %w", err)
	}
	if len(sc.Architectures) > 1 {
		sc.Architectures = sc.Architectures[:1]
	}
	setSeccomp(s, sc)
	return nil
}

// pauseDenied are the calls Berth's pause profile refuses with EPERM:
// loading code into the kernel or tracing it (bpf, perf_event_open, kernel
// modules, kexec), keys, io_uring, userfaultfd, other processes' memory
// (ptrace, process_vm_*, kcmp), NUMA policy, mounts and namespaces, the
// clock, swap, reboot, accounting, quotas, the kernel log, and the legacy
// calls Docker's profile refuses too. Most need a capability pause lacks;
// bpf, perf_event_open, keyctl, io_uring, userfaultfd and unshare of a
// user namespace do not.
var pauseDenied = []string{
	"bpf", "perf_event_open", "init_module", "finit_module", "delete_module", "kexec_load", "kexec_file_load",
	"add_key", "request_key", "keyctl",
	"io_uring_setup", "io_uring_enter", "io_uring_register", "userfaultfd",
	"ptrace", "process_vm_readv", "process_vm_writev", "kcmp",
	"mbind", "set_mempolicy", "move_pages",
	"mount", "umount2", "pivot_root", "chroot", "unshare", "setns",
	"fsopen", "fsconfig", "fsmount", "fspick", "move_mount", "open_tree", "mount_setattr",
	"name_to_handle_at", "open_by_handle_at",
	"clock_adjtime", "clock_settime", "settimeofday", "swapon", "swapoff", "reboot",
	"acct", "quotactl", "syslog", "lookup_dcookie", "personality", "vhangup", "ioperm", "iopl",
}

// namespaceFlags are clone's flags that make new namespaces, which the
// pause profile refuses (unshare is refused whole). clone3 answers ENOSYS,
// since its flags are out of a filter's reach; the Go runtime and libc
// then use clone.
var namespaceFlags = []uint64{
	unix.CLONE_NEWNS, unix.CLONE_NEWUTS, unix.CLONE_NEWIPC, unix.CLONE_NEWUSER,
	unix.CLONE_NEWPID, unix.CLONE_NEWNET, unix.CLONE_NEWCGROUP,
}

// cloneFlagsArg is the argument of clone(2) that holds its flags: the
// first everywhere but on s390, whose clone takes the stack first (as
// Docker's profile also knows).
var cloneFlagsArg = func() uint {
	if runtime.GOARCH == "s390x" {
		return 1
	}
	return 0
}()

// withPauseProfile sets Berth's pause profile, on the native architecture
// only: calls of another one (32-bit x86 on x86-64) are refused whole.
func withPauseProfile(_ context.Context, _ oci.Client, _ *containers.Container, s *oci.Spec) error {
	arch, err := nativeArch()
	if err != nil {
		return err
	}
	eperm, enosys := uint(unix.EPERM), uint(unix.ENOSYS)
	sc := &specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow,
		Architectures: []specs.Arch{arch},
		Syscalls: []specs.LinuxSyscall{
			{Names: pauseDenied, Action: specs.ActErrno, ErrnoRet: &eperm},
			{Names: []string{"clone3"}, Action: specs.ActErrno, ErrnoRet: &enosys},
		},
	}
	for _, f := range namespaceFlags {
		sc.Syscalls = append(sc.Syscalls, specs.LinuxSyscall{
			Names: []string{"clone"}, Action: specs.ActErrno, ErrnoRet: &eperm,
			Args: []specs.LinuxSeccompArg{{Index: cloneFlagsArg, Value: f, ValueTwo: f, Op: specs.OpMaskedEqual}},
		})
	}
	setSeccomp(s, sc)
	return nil
}

// nativeArch is the first architecture of the default profile, the node's
// own.
func nativeArch() (specs.Arch, error) {
	none := &specs.Spec{Process: &specs.Process{Capabilities: &specs.LinuxCapabilities{}}}
	sc, err := mobyseccomp.GetDefaultProfile(none)
	if err != nil {
		return "", fmt.Errorf("default seccomp profile: %w", err)
	}
	if len(sc.Architectures) == 0 {
		return "", fmt.Errorf("the default seccomp profile names no architecture for %s", runtime.GOARCH)
	}
	return sc.Architectures[0], nil
}

// withProfile sets a Localhost profile (Docker's format, which is also the
// OCI one with names lists) read from path.
func withProfile(path string, body []byte) oci.SpecOpts {
	return func(_ context.Context, _ oci.Client, _ *containers.Container, s *oci.Spec) error {
		sc, err := mobyseccomp.LoadProfile(string(body), withCapabilities(s))
		if err != nil {
			return fmt.Errorf("seccomp profile %q: %v: %w", path, err, errdefs.ErrInvalidArgument)
		}
		setSeccomp(s, sc)
		return nil
	}
}

// withCapabilities makes sure the profile conversion, which reads the
// bounding set, finds one (empty means no capability).
func withCapabilities(s *oci.Spec) *specs.Spec {
	if s.Process != nil && s.Process.Capabilities != nil {
		return s
	}
	c := *s
	c.Process = &specs.Process{Capabilities: &specs.LinuxCapabilities{}}
	return &c
}

func setSeccomp(s *oci.Spec, sc *specs.LinuxSeccomp) {
	if s.Linux == nil {
		s.Linux = &specs.Linux{}
	}
	s.Linux.Seccomp = sc
}
