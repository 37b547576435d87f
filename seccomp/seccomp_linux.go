package seccomp

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"

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
