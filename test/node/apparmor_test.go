package node

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestAppArmor: with Debian's apparmor package Berth loads its default
// profile and confines containers with it; without the package (the kernel
// still has AppArmor on) containers run unconfined and berthd warns, as
// containerd does, rather than failing every container.
func TestAppArmor(t *testing.T) {
	if data, _ := os.ReadFile("/sys/module/apparmor/parameters/enabled"); strings.TrimSpace(string(data)) != "Y" {
		t.Fatalf("the kernel's AppArmor is off (%q): the check needs Debian's default, on", data)
	}
	_, parserErr := exec.LookPath("apparmor_parser")
	pod, cfg := runPod(t)
	id := runCtr(t, pod, cfg)
	_, info := ctrStatus(t, id)
	// runc applies the profile to the container's init at its execve of
	// the command, and StartContainer returns once runc has let init go,
	// not once init has exec'd: until then init is runc's and unconfined.
	// In the emulated VM that gap is long enough to be seen (this check
	// read "unconfined" once in three runs): read the label once the
	// process is the command.
	waitFor(t, "the container's init to exec sleep", time.Minute, func() bool {
		cmd, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", info.Pid))
		return strings.HasPrefix(string(cmd), "sleep\x00")
	})
	attr, err := os.ReadFile(fmt.Sprintf("/proc/%d/attr/current", info.Pid))
	if err != nil {
		t.Fatal(err)
	}
	label := strings.TrimSpace(strings.TrimRight(string(attr), "\x00"))
	switch variant {
	case "apparmor":
		if parserErr != nil {
			t.Fatalf("the apparmor image has no apparmor_parser: %v", parserErr)
		}
		profiles, _ := os.ReadFile("/sys/kernel/security/apparmor/profiles")
		if !strings.Contains(string(profiles), "berth-default (enforce)") {
			t.Errorf("berth-default is not loaded in enforce mode; loaded profiles:\n%s", profiles)
		}
		if label != "berth-default (enforce)" {
			t.Errorf("the container runs as %q (an exec in it: %q), want berth-default (enforce)",
				label, execOut(t, id, "cat", "/proc/self/attr/current"))
		}
	default:
		if parserErr == nil {
			t.Fatalf("the minimal image has apparmor_parser")
		}
		if label != "unconfined" {
			t.Errorf("the container runs as %q, want unconfined", label)
		}
		warned := false
		for _, l := range strings.Split(berthLog(t), "\n") {
			if strings.Contains(strings.ToLower(l), "apparmor") && strings.Contains(l, "WARN") {
				warned = true
			}
		}
		if !warned {
			t.Errorf("berthd did not warn that containers run without AppArmor; its log:\n%s", berthLog(t))
		}
	}
}
