package handlers

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"

	"github.com/containerd/containerd/v2/core/containers"
	"github.com/containerd/typeurl/v2"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// An OCI runtime that declares runtime-spec 1.0 (`<runtime> --version`
// prints "spec: 1.0.0") may refuse any other ociVersion: crun before
// 1.14.3, Debian 12's 1.8 among them, fails every create with "unknown
// version specified" (containers/crun#1417 dropped the check). Such a
// runtime's specs are labelled with the version it declares; their
// content is what every other handler gets, and the fields a 1.0 runtime
// does not know it ignores.

// declaredSpecVersion is the "spec:" line of `binary --version`, "" when
// it has none.
func declaredSpecVersion(ctx context.Context, binary string) string {
	out, err := exec.CommandContext(ctx, binary, "--version").Output()
	if err != nil {
		return ""
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "spec:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// specVersionFor is the ociVersion to write for a runtime declaring
// declared: "" (Berth's own) unless it is a 1.0 runtime.
func specVersionFor(declared string) string {
	if strings.HasPrefix(declared, "1.0") && !strings.HasPrefix(specs.Version, "1.0") {
		return declared
	}
	return ""
}

// setSpecVersion rewrites c's spec's ociVersion.
func setSpecVersion(c *containers.Container, version string) error {
	if c.Spec == nil {
		return fmt.Errorf("container %s has no spec to set the OCI version of: the runtime must be set after the spec", c.ID)
	}
	v, err := typeurl.UnmarshalAny(c.Spec)
	if err != nil {
		return err
	}
	s, ok := v.(*specs.Spec)
	if !ok {
		return fmt.Errorf("container %s's spec is %T", c.ID, v)
	}
	s.Version = version
	c.Spec, err = typeurl.MarshalAnyToProto(s)
	return err
}
