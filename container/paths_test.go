package container

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
)

func TestLogPathStaysInTheLogDirectory(t *testing.T) {
	for _, tc := range []struct {
		dir, rel, want string
		invalid        bool
	}{
		{"/var/log/pods/ns_pod_uid", "app/0.log", "/var/log/pods/ns_pod_uid/app/0.log", false},
		{"/var/log/pods/ns_pod_uid", "", "", false},
		{"", "app/0.log", "", false},
		{"/var/log/pods/ns_pod_uid", "../../../etc/shadow", "", true},
		{"/var/log/pods/ns_pod_uid", "app/../../other/0.log", "", true},
		{"/var/log/pods/ns_pod_uid", "/etc/shadow", "", true},
		{"relative/dir", "app/0.log", "", true},
	} {
		got, err := logPath(tc.dir, tc.rel)
		if tc.invalid {
			if !errdefs.IsInvalidArgument(err) {
				t.Errorf("logPath(%q, %q) = %q, %v; want InvalidArgument", tc.dir, tc.rel, got, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("logPath(%q, %q) = %q, %v; want %q", tc.dir, tc.rel, got, err, tc.want)
		}
	}
}

func TestImageSubPathCannotLeaveTheImage(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "data", "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/etc", filepath.Join(root, "hostetc")); err != nil { // absolute: would be the node's /etc
		t.Fatal(err)
	}
	if err := os.Symlink("../../..", filepath.Join(root, "data", "climb")); err != nil { // relative, climbing out
		t.Fatal(err)
	}
	if err := os.Symlink("sub", filepath.Join(root, "data", "alias")); err != nil { // a harmless link inside
		t.Fatal(err)
	}

	for _, tc := range []struct {
		sub, want string
		invalid   bool
	}{
		{"data/sub", filepath.Join(root, "data", "sub"), false},
		{"data/alias", filepath.Join(root, "data", "sub"), false},
		{"hostetc/passwd", "", true}, // resolves to <root>/etc/passwd, which the image lacks
		{"data/climb/etc/passwd", "", true},
		{"../etc", "", true},
		{"/", "", true},
	} {
		got, err := imageSubPath(root, tc.sub)
		if tc.invalid {
			if !errdefs.IsInvalidArgument(err) {
				t.Errorf("imageSubPath(%q) = %q, %v; want InvalidArgument", tc.sub, got, err)
			}
			if got != "" && !strings.HasPrefix(got, root) {
				t.Errorf("imageSubPath(%q) escaped the image: %q", tc.sub, got)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("imageSubPath(%q) = %q, %v; want %q", tc.sub, got, err, tc.want)
		}
	}
}
