package app

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestImagesFindBerthdsContainerd: berthd images must reach the containerd
// the daemon with the same file and flags drives, in its namespace.
func TestImagesFindBerthdsContainerd(t *testing.T) {
	for _, tc := range []struct {
		desc, file string
		args       []string
		want       string // in the error: the socket it looked for
	}{
		{desc: "defaults", want: "/run/berth/containerd/containerd.sock"},
		{desc: "state from the file", file: "state = \"/run/b2\"\n", want: "/run/b2/containerd/containerd.sock"},
		{desc: "state flag over the file", file: "state = \"/run/b2\"\n", args: []string{"--state", "/run/b3"}, want: "/run/b3/containerd/containerd.sock"},
		{desc: "an external containerd", file: "[containerd]\naddress = \"/run/ext/c.sock\"\n", want: "/run/ext/c.sock"},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "config.toml")
			if tc.file != "" {
				if err := os.WriteFile(path, []byte(tc.file), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			cmd := NewCommand()
			var out bytes.Buffer
			cmd.SetOut(&out)
			cmd.SetErr(&out)
			cmd.SetArgs(append([]string{"images", "import", "--config", path, "/nonexistent.tar"}, tc.args...))
			err := cmd.Execute()
			if err == nil || !strings.Contains(err.Error(), "berthd's containerd is not at "+tc.want+" ") {
				t.Fatalf("want an error naming %s, got %v", tc.want, err)
			}
		})
	}
}

func TestImagesImportNameNeedsOneArchive(t *testing.T) {
	cmd := NewCommand()
	cmd.SetArgs([]string{"images", "import", "--name", "app:1", "a.tar", "b.tar"})
	if err := cmd.Execute(); err == nil || !strings.Contains(err.Error(), "--name") {
		t.Fatalf("want a usage error about --name, got %v", err)
	}
}
