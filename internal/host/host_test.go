package host

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseKernel(t *testing.T) {
	for _, tc := range []struct {
		release      string
		major, minor int
		ok           bool
	}{
		{"6.18.44-fc-v657", 6, 18, true},
		{"4.19.0-26-amd64", 4, 19, true},
		{"5.10+", 5, 10, true},
		{"garbage", 0, 0, false},
	} {
		major, minor, ok := parseKernel(tc.release)
		if major != tc.major || minor != tc.minor || ok != tc.ok {
			t.Errorf("parseKernel(%q) = %d.%d %v", tc.release, major, minor, ok)
		}
	}
}

func TestChooseResolvConf(t *testing.T) {
	dir := t.TempDir()
	resolved := filepath.Join(dir, "resolved.conf")
	if err := os.WriteFile(resolved, []byte("nameserver 192.0.2.53\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, host   string
		wantResolved bool
	}{
		{"systemd-resolved stub", "nameserver 127.0.0.53\noptions edns0 trust-ad\nsearch .\n", true},
		{"real upstream", "nameserver 192.0.2.1\n", false},
		{"stub plus upstream", "nameserver 127.0.0.53\nnameserver 192.0.2.1\n", false},
		{"ipv6 loopback", "nameserver ::1\n", true},
		{"no nameserver at all", "search example.com\n", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			host := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_"))
			if err := os.WriteFile(host, []byte(tc.host), 0o644); err != nil {
				t.Fatal(err)
			}
			got := chooseResolvConf(host, resolved)
			if (got == resolved) != tc.wantResolved {
				t.Fatalf("chose %s", got)
			}
		})
	}
	stub := filepath.Join(dir, "stub")
	if err := os.WriteFile(stub, []byte("nameserver 127.0.0.53\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := chooseResolvConf(stub, filepath.Join(dir, "absent")); got != stub {
		t.Fatalf("without resolved's file the host's must stay: %s", got)
	}
}

func TestLookPath(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "runc")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "notexec"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, err := LookPath("runc", dir); err != nil || got != bin {
		t.Fatalf("LookPath in dir: %q %v", got, err)
	}
	if _, err := LookPath("notexec", dir); err == nil || !strings.Contains(err.Error(), "notexec not found") {
		t.Fatalf("non-executable must not be found: %v", err)
	}
	if got, err := LookPath("sh"); err != nil || !filepath.IsAbs(got) {
		t.Fatalf("PATH fallback: %q %v", got, err)
	}
	if _, err := LookPath(filepath.Join(dir, "absent")); err == nil {
		t.Fatal("absent absolute path found")
	}
}

func TestCheckNamesEveryMissingBinary(t *testing.T) {
	err := Check(Detect(), Requirements{Binaries: []string{"berth-no-such-a", "berth-no-such-b"}})
	if err == nil {
		t.Fatal("missing binaries accepted")
	}
	for _, want := range []string{"berth-no-such-a", "berth-no-such-b"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not name %s: %v", want, err)
		}
	}
	if strings.Contains(err.Error(), "overlay") || strings.Contains(err.Error(), "cgroup") {
		t.Errorf("this node has overlayfs and cgroups, yet: %v", err)
	}
}

func TestOOMScoreAdjReportsTheValueInForce(t *testing.T) {
	before, err := readInt("/proc/self/oom_score_adj")
	if err != nil {
		t.Skip("no /proc/self/oom_score_adj")
	}
	got, err := SetOOMScoreAdj(before + 1)
	if err != nil || got != before+1 {
		t.Fatalf("raising oom_score_adj: got %d, %v", got, err)
	}
	// Lowering needs CAP_SYS_RESOURCE; either it works or it reports the
	// value kept, never a value that is not in force.
	got, err = SetOOMScoreAdj(-999)
	cur, _ := readInt("/proc/self/oom_score_adj")
	if got != cur {
		t.Fatalf("reported %d, in force %d", got, cur)
	}
	if err != nil && !strings.Contains(err.Error(), "keeping") {
		t.Fatalf("refusal should say what is kept: %v", err)
	}
}

func TestDumpStacks(t *testing.T) {
	path, err := DumpStacks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	if !strings.Contains(string(data), "TestDumpStacks") {
		t.Fatalf("dump lacks this goroutine:\n%.500s", data)
	}
}

// The kernel's version is read once, into Facts; what the checks and the
// runtime handlers' features say follows from it.
func TestKernelFacts(t *testing.T) {
	for _, tc := range []struct {
		release                 string
		old, userns, rro, parse bool
	}{
		{"4.14.0-1-amd64", true, false, false, true},
		{"5.12.0", false, false, true, true},
		{"5.19.3", false, true, true, true},
		{"6.18.44-fc-v657", false, true, true, true},
		{"garbage", false, false, false, false},
	} {
		t.Run(tc.release, func(t *testing.T) {
			f := Facts{KernelRelease: tc.release, CgroupV2: true}
			if major, minor, ok := parseKernel(tc.release); ok {
				f.Kernel = [2]int{major, minor}
			}
			err := checkKernel(f)
			switch {
			case !tc.parse && (err == nil || !strings.Contains(err.Error(), "cannot parse")):
				t.Errorf("checkKernel = %v, want a release that does not parse", err)
			case tc.parse && tc.old != (err != nil):
				t.Errorf("checkKernel = %v, old kernel %v", err, tc.old)
			}
			if f.UserNamespacesSupported() != tc.userns || f.RecursiveReadOnlySupported() != tc.rro {
				t.Errorf("user namespaces %v, recursive read-only %v; want %v, %v", f.UserNamespacesSupported(), f.RecursiveReadOnlySupported(), tc.userns, tc.rro)
			}
		})
	}
}
