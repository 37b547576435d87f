package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/berth-cri/berth/test/harness"
)

// The profile critest uses to check Localhost seccomp.
const blockChmodProfile = `{"defaultAction": "SCMP_ACT_ALLOW",
 "syscalls": [{"names": ["chmod", "fchmodat", "fchmodat2"], "action": "SCMP_ACT_ERRNO"}]}`

func withSeccomp(typ runtimeapi.SecurityProfile_ProfileType, ref string) CtrOption {
	return withSecurity(func(sc *runtimeapi.LinuxContainerSecurityContext) {
		sc.Seccomp = &runtimeapi.SecurityProfile{ProfileType: typ, LocalhostRef: ref}
	})
}

// seccompMode is the Seccomp: line of a process's status: 0 none, 2 filter.
func seccompMode(status string) string {
	for _, line := range strings.Split(status, "\n") {
		if v, ok := strings.CutPrefix(line, "Seccomp:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return "?"
}

func TestSecuritySeccomp(t *testing.T) {
	harness.RequireRoot(t)
	root, outside := t.TempDir(), t.TempDir()
	for _, dir := range []string{root, outside} {
		if err := os.WriteFile(filepath.Join(dir, "block-chmod.json"), []byte(blockChmodProfile), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(filepath.Join(outside, "block-chmod.json"), filepath.Join(root, "escape.json")); err != nil {
		t.Fatal(err)
	}
	reg := harness.StartRegistry(t)
	d := harness.Start(t, harness.WithRegistryConfigDir(reg.HostsDir), harness.WithArgs("--seccomp-profile-root", root))
	img := mustPull(t, d, busyboxRef)
	podID, podCfg := runPod(t, d)

	// Berth's pause profile for a pod that asks nothing, the default
	// profile for one that asks RuntimeDefault: a filter either way, never
	// unconfined, and no capabilities.
	confinedPod, _ := runPod(t, d, func(c *runtimeapi.PodSandboxConfig) {
		c.Linux.SecurityContext.Seccomp = &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_RuntimeDefault}
	})
	for name, pod := range map[string]string{"nothing asked": podID, "RuntimeDefault": confinedPod} {
		t.Run("the pause container is confined, without capabilities: "+name, func(t *testing.T) {
			var info struct {
				Pid int `json:"pid"`
			}
			decodeInfo(t, podStatus(t, d, pod).Info["info"], &info)
			data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", info.Pid))
			if err != nil {
				t.Fatal(err)
			}
			if got := seccompMode(string(data)); got != "2" {
				t.Fatalf("pause Seccomp: %s, want 2 (filter)", got)
			}
			for _, line := range strings.Split(string(data), "\n") {
				if (strings.HasPrefix(line, "CapEff:") || strings.HasPrefix(line, "CapBnd:")) && strings.Trim(strings.Fields(line)[1], "0") != "" {
					t.Fatalf("pause has capabilities: %s", line)
				}
			}
		})
	}

	t.Run("a Localhost profile outside the root is InvalidArgument", func(t *testing.T) {
		for _, ref := range []string{
			filepath.Join(outside, "block-chmod.json"),
			root + "/../" + filepath.Base(outside) + "/block-chmod.json",
			filepath.Join(root, "escape.json"),
			filepath.Join(root, "missing.json"),
		} {
			ctx, cancel := ctxTimeout(30 * time.Second)
			_, err := d.Runtime.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{
				PodSandboxId: podID, SandboxConfig: podCfg,
				Config: ctrConfig(img, withSeccomp(runtimeapi.SecurityProfile_Localhost, ref)),
			})
			cancel()
			if status.Code(err) != codes.InvalidArgument || !strings.Contains(status.Convert(err).Message(), ref) {
				t.Errorf("CreateContainer with seccomp profile %s: %v; want InvalidArgument naming the path", ref, err)
			}
		}
	})

	// unshare(CLONE_NEWUSER) needs no capability, so only the filter can
	// refuse it: the default profile allows unshare to CAP_SYS_ADMIN only.
	t.Run("RuntimeDefault denies unshare that Unconfined allows", func(t *testing.T) {
		free := runContainer(t, d, podID, podCfg, ctrConfig(img, withSeccomp(runtimeapi.SecurityProfile_Unconfined, "")))
		if got := seccompMode(mustExec(t, d, free, "cat", "/proc/self/status")); got != "0" {
			t.Fatalf("Unconfined container Seccomp: %s, want 0", got)
		}
		mustExec(t, d, free, "unshare", "-U", "true")

		confined := runContainer(t, d, podID, podCfg, ctrConfig(img, withSeccomp(runtimeapi.SecurityProfile_RuntimeDefault, "")))
		if got := seccompMode(mustExec(t, d, confined, "cat", "/proc/self/status")); got != "2" {
			t.Fatalf("RuntimeDefault container Seccomp: %s, want 2", got)
		}
		resp, err := execSync(t, d, confined, 10, "unshare", "-U", "true")
		if err != nil {
			t.Fatal(err)
		}
		if resp.ExitCode == 0 || !strings.Contains(string(resp.Stderr), "Operation not permitted") {
			t.Fatalf("unshare -U under RuntimeDefault: exit %d, stderr %q; want Operation not permitted", resp.ExitCode, resp.Stderr)
		}
	})

	t.Run("a Localhost profile that blocks chmod makes chmod fail", func(t *testing.T) {
		id := runContainer(t, d, podID, podCfg, ctrConfig(img, withSeccomp(runtimeapi.SecurityProfile_Localhost, filepath.Join(root, "block-chmod.json"))))
		mustExec(t, d, id, "touch", "/tmp/f")
		resp, err := execSync(t, d, id, 10, "chmod", "600", "/tmp/f")
		if err != nil {
			t.Fatal(err)
		}
		if resp.ExitCode == 0 || !strings.Contains(string(resp.Stderr), "Operation not permitted") {
			t.Fatalf("chmod under the chmod-blocking profile: exit %d, stderr %q", resp.ExitCode, resp.Stderr)
		}
		// The same profile through the deprecated path string.
		legacy := runContainer(t, d, podID, podCfg, ctrConfig(img, withSecurity(func(sc *runtimeapi.LinuxContainerSecurityContext) {
			sc.SeccompProfilePath = "localhost/" + filepath.Join(root, "block-chmod.json")
		})))
		if resp, err := execSync(t, d, legacy, 10, "chmod", "600", "/tmp"); err != nil || resp.ExitCode == 0 {
			t.Fatalf("chmod under the legacy localhost/ profile: %v %v", resp, err)
		}
	})

	t.Run("a Localhost AppArmor profile fails where the kernel has no AppArmor", func(t *testing.T) {
		if _, err := os.Stat("/sys/module/apparmor"); err == nil {
			t.Skip("kernel-dependent: this kernel has AppArmor")
		}
		ctx, cancel := ctxTimeout(30 * time.Second)
		defer cancel()
		_, err := d.Runtime.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{
			PodSandboxId: podID, SandboxConfig: podCfg,
			Config: ctrConfig(img, withSecurity(func(sc *runtimeapi.LinuxContainerSecurityContext) {
				sc.Apparmor = &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_Localhost, LocalhostRef: "deny-write"}
			})),
		})
		if status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), "AppArmor is not enabled on this node") {
			t.Fatalf("CreateContainer: %v; want FailedPrecondition", err)
		}
		// RuntimeDefault is a no-op there.
		runContainer(t, d, podID, podCfg, ctrConfig(img, withSecurity(func(sc *runtimeapi.LinuxContainerSecurityContext) {
			sc.Apparmor = &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_RuntimeDefault}
		})))
	})
}
