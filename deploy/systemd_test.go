package deploy

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/coreos/go-systemd/v22/unit"

	"github.com/berth-cri/berth/internal/config"
)

var units = []string{"berth.service", "berth-external-containerd.service"}

// unitOptions reads a unit as systemd does: section -> key -> values.
func unitOptions(t *testing.T, name string) map[string]map[string][]string {
	t.Helper()
	f, err := os.Open(filepath.Join("systemd", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	opts, err := unit.DeserializeOptions(f)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	m := map[string]map[string][]string{}
	for _, o := range opts {
		if m[o.Section] == nil {
			m[o.Section] = map[string][]string{}
		}
		m[o.Section][o.Name] = append(m[o.Section][o.Name], o.Value)
	}
	return m
}

func TestUnitsLeaveContainersRunningWhenBerthdRestarts(t *testing.T) {
	for _, name := range units {
		t.Run(name, func(t *testing.T) {
			svc := unitOptions(t, name)["Service"]
			for key, want := range map[string]string{
				// kubelet, ordered after the unit, finds berthd answering.
				"Type": "notify",
				// A restart signals berthd only: shims and containers stay.
				"KillMode": "process",
				"Delegate": "yes",
				"Restart":  "always",
				// The kernel kills pods before the runtime, as berthd's own
				// default asks.
				"OOMScoreAdjust": strconv.Itoa(config.Default().OOMScoreAdj),
				"LimitNOFILE":    "1048576",
			} {
				if got := svc[key]; len(got) != 1 || got[0] != want {
					t.Errorf("%s=%q, want %q", key, got, want)
				}
			}
			// Debian's kernel has overlay as a module, loaded by nobody
			// before berthd checks for it.
			if got := svc["ExecStartPre"]; !slices.Contains(got, "-/sbin/modprobe overlay") {
				t.Errorf("ExecStartPre=%q, want -/sbin/modprobe overlay", got)
			}
			cmdline := strings.Fields(svc["ExecStart"][0])
			if cmdline[0] != "/usr/local/bin/berthd" {
				t.Errorf("ExecStart runs %s, not where make install puts berthd", cmdline[0])
			}
			if i := slices.Index(cmdline, "--config"); i < 0 || cmdline[i+1] != config.DefaultPath {
				t.Errorf("ExecStart %q does not read %s", cmdline, config.DefaultPath)
			}
		})
	}
}

func TestExternalContainerdUnitPairsWithContainerdService(t *testing.T) {
	u := unitOptions(t, "berth-external-containerd.service")
	for _, key := range []string{"After", "Requires"} {
		if !slices.ContainsFunc(u["Unit"][key], func(v string) bool { return slices.Contains(strings.Fields(v), "containerd.service") }) {
			t.Errorf("%s= lacks containerd.service: %q", key, u["Unit"][key])
		}
	}
	if got := u["Unit"]["Conflicts"]; !slices.Equal(got, []string{"berth.service"}) {
		t.Errorf("Conflicts=%q: both units serve the same CRI socket", got)
	}
	cmdline := strings.Fields(u["Service"]["ExecStart"][0])
	if i := slices.Index(cmdline, "--containerd-address"); i < 0 || cmdline[i+1] != "/run/containerd/containerd.sock" {
		t.Errorf("ExecStart %q does not use containerd.service's socket", cmdline)
	}
	if slices.ContainsFunc(unitOptions(t, "berth.service")["Unit"]["Requires"], func(v string) bool { return strings.Contains(v, "containerd") }) {
		t.Error("berth.service must not need containerd.service: berthd starts its own")
	}
}

// TestUnitsPassSystemdAnalyzeVerify has systemd itself check the units:
// unknown keys, bad values, a missing ExecStart binary. verify needs the
// binary where ExecStart says, so each unit is checked as a copy naming the
// berthd that make build wrote.
func TestUnitsPassSystemdAnalyzeVerify(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze is not installed (Debian: apt-get install systemd; make deps installs it)")
	}
	berthd := builtBinary(t, "berthd")
	dir := t.TempDir()
	// verify follows Requires= to containerd.service: give it containerd's
	// own unit, from the containerd module Berth builds against, running
	// the containerd make deps built.
	mod, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/containerd/containerd/v2").Output()
	if err != nil {
		t.Fatalf("go list the containerd module: %v", err)
	}
	containerdUnit, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(mod)), "containerd.service"))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "containerd.service"),
		strings.ReplaceAll(string(containerdUnit), "/usr/local/bin/containerd", builtBinary(t, "containerd")))
	for _, name := range units {
		data, err := os.ReadFile(filepath.Join("systemd", name))
		if err != nil {
			t.Fatal(err)
		}
		text := strings.ReplaceAll(string(data), "/usr/local/bin/berthd", berthd)
		writeFile(t, filepath.Join(dir, name), text)
		out, err := exec.Command(analyze, "verify", filepath.Join(dir, name)).CombinedOutput()
		if err != nil || len(out) > 0 {
			t.Errorf("systemd-analyze verify %s: %v\n%s", name, err, out)
		}
	}
}

// builtBinary is a binary of make build or make deps, from BERTH_BIN_DIR.
func builtBinary(t *testing.T, name string) string {
	t.Helper()
	dir := os.Getenv("BERTH_BIN_DIR")
	if dir == "" {
		t.Skip("BERTH_BIN_DIR is not set (make test-unit sets it to _output/bin)")
	}
	path, err := filepath.Abs(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Skipf("%s is not built (make build; make deps): %v", name, err)
	}
	return path
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestUnitsPassOnlyFlagsBerthdHas parses each ExecStart's flags with the
// built berthd: a renamed or misspelt flag would fail every start.
func TestUnitsPassOnlyFlagsBerthdHas(t *testing.T) {
	berthd := builtBinary(t, "berthd")
	for _, name := range units {
		args := strings.Fields(unitOptions(t, name)["Service"]["ExecStart"][0])[1:]
		out, err := exec.Command(berthd, append(args, "--version")...).CombinedOutput()
		if err != nil {
			t.Errorf("%s: berthd %s: %v\n%s", name, strings.Join(args, " "), err, out)
		}
	}
}
