package app

import (
	"bytes"
	"strings"
	"testing"

	"github.com/berth-cri/berth/internal/version"
)

func TestVersionNamesBerthAndTheStackItWasBuiltFor(t *testing.T) {
	defer func(v, c, ctrd, runc, cni string) {
		version.Version, version.Commit, version.Containerd, version.Runc, version.CNIPlugins = v, c, ctrd, runc, cni
	}(version.Version, version.Commit, version.Containerd, version.Runc, version.CNIPlugins)
	// What the Makefile's -ldflags stamp.
	version.Version, version.Commit = "1.2.3", "abc1234"
	version.Containerd, version.Runc, version.CNIPlugins = "v2.4.2", "v1.3.6", "v1.10.0"

	cmd := NewCommand()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetArgs([]string{"--version"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"berthd 1.2.3", "commit abc1234", "containerd v2.4.2", "runc v1.3.6", "CNI plugins v1.10.0"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("berthd --version lacks %q:\n%s", want, out.String())
		}
	}
}
