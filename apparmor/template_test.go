package apparmor

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestGenerateStandalone(t *testing.T) {
	text, err := generate(templateData{Name: "berth-default", Daemon: "unconfined"})
	if err != nil {
		t.Fatal(err)
	}
	s := string(text)
	for _, want := range []string{
		"@{PROC}=/proc/\n",
		"profile berth-default flags=(attach_disconnected,mediate_deleted) {\n",
		"  deny mount,\n",
		"  deny @{PROC}/sysrq-trigger rwklx,\n",
		"  deny /sys/kernel/security/** rwklx,\n",
		"  signal (send,receive) peer=berth-default,\n",
		"  ptrace (trace,tracedby,read,readby) peer=berth-default,\n",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("profile lacks %q:\n%s", want, s)
		}
	}
	for _, absent := range []string{"#include", "abi <", "peer=unconfined,\n  signal (receive) peer=unconfined"} {
		if strings.Contains(s, absent) {
			t.Errorf("standalone profile has %q:\n%s", absent, s)
		}
	}
	if strings.Count(s, "{") != strings.Count(s, "}") {
		t.Errorf("unbalanced braces:\n%s", s)
	}
}

func TestGenerateWithHostPolicy(t *testing.T) {
	dir := t.TempDir()
	for _, p := range []string{"tunables/global", "abstractions/base", "abi/3.0"} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, p), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	attr := filepath.Join(dir, "current")
	if err := os.WriteFile(attr, []byte("berthd-profile (enforce)\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	text, err := generate(hostTemplateData("berth-default", dir, attr))
	if err != nil {
		t.Fatal(err)
	}
	s := string(text)
	for _, want := range []string{
		"abi <abi/3.0>,\n#include <tunables/global>\n",
		"{\n  #include <abstractions/base>\n",
		"  signal (receive) peer=berthd-profile,\n",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("profile lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, "@{PROC}=/proc/") {
		t.Errorf("profile defines @{PROC} although tunables/global does:\n%s", s)
	}
}

func TestDaemonProfile(t *testing.T) {
	for in, want := range map[string]string{
		"unconfined\n":       "unconfined",
		"":                   "unconfined",
		"berthd (enforce)\n": "berthd",
		"runc (complain)":    "runc",
	} {
		if got := daemonProfile(in); got != want {
			t.Errorf("daemonProfile(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestGeneratedProfileCompiles has apparmor_parser compile the profile
// without loading it (-Q), which works on kernels without AppArmor too.
func TestGeneratedProfileCompiles(t *testing.T) {
	parser, err := exec.LookPath("apparmor_parser")
	if err != nil {
		t.Skip("apparmor_parser is not installed (Debian: apt-get install apparmor)")
	}
	for name, d := range map[string]templateData{
		"standalone":  {Name: DefaultProfileName, Daemon: "unconfined"},
		"host policy": hostTemplateData(DefaultProfileName, "/etc/apparmor.d", "/proc/self/attr/current"),
	} {
		text, err := generate(d)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), "berth-default")
		if err := os.WriteFile(path, text, 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command(parser, "-Q", "-K", path).CombinedOutput(); err != nil {
			t.Errorf("%s: apparmor_parser: %v\n%s\n%s", name, err, out, text)
		}
	}
}
