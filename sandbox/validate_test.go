package sandbox

import (
	"strings"
	"testing"

	"github.com/containerd/errdefs"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

func validPod() *runtimeapi.PodSandboxConfig {
	return &runtimeapi.PodSandboxConfig{
		Metadata: &runtimeapi.PodSandboxMetadata{Name: "p", Namespace: "n", Uid: "u"},
		Hostname: "web-0",
		DnsConfig: &runtimeapi.DNSConfig{
			Servers:  []string{"10.96.0.10", "fd00::a", "fe80::1%eth0"},
			Searches: []string{"n.svc.cluster.local", "svc.cluster.local"},
			Options:  []string{"ndots:5", "edns0"},
		},
		Linux: &runtimeapi.LinuxPodSandboxConfig{
			Sysctls: map[string]string{
				"net.ipv4.ip_unprivileged_port_start": "0",
				"net/ipv4/conf/eth0.1/forwarding":     "1",
				"kernel.shm_rmid_forced":              "1",
				"kernel.sem":                          "250 32000 100 128",
				"fs.mqueue.msg_max":                   "100",
			},
			SecurityContext: &runtimeapi.LinuxSandboxSecurityContext{NamespaceOptions: &runtimeapi.NamespaceOption{}},
		},
	}
}

// Each case is a pod author's text that would reach a pod file or
// /proc/sys of the node; RunPodSandbox refuses it with InvalidArgument
// before anything is made.
func TestValidateConfigRefusesPodText(t *testing.T) {
	if err := validateConfig(validPod()); err != nil {
		t.Fatalf("a valid pod is refused: %v", err)
	}
	for _, tc := range []struct {
		name   string
		mutate func(*runtimeapi.PodSandboxConfig)
		says   string
	}{
		{"nameserver not an IP", func(c *runtimeapi.PodSandboxConfig) { c.DnsConfig.Servers = []string{"8.8.8.8\nnameserver 6.6.6.6"} }, "not an IP"},
		{"nameserver a name", func(c *runtimeapi.PodSandboxConfig) { c.DnsConfig.Servers = []string{"dns.example"} }, "not an IP"},
		{"option with a newline", func(c *runtimeapi.PodSandboxConfig) { c.DnsConfig.Options = []string{"ndots:5\nnameserver 6.6.6.6"} }, "dns option"},
		{"search with a space", func(c *runtimeapi.PodSandboxConfig) { c.DnsConfig.Searches = []string{"a b"} }, "dns search"},
		{"search with a tab", func(c *runtimeapi.PodSandboxConfig) { c.DnsConfig.Searches = []string{"a\tb"} }, "dns search"},
		{"hostname with a newline", func(c *runtimeapi.PodSandboxConfig) { c.Hostname = "web\n10.0.0.1 kubernetes" }, "hostname"},
		{"hostname with a control char", func(c *runtimeapi.PodSandboxConfig) { c.Hostname = "web\x00" }, "hostname"},
		{"sysctl name", func(c *runtimeapi.PodSandboxConfig) {
			c.Linux.Sysctls = map[string]string{"net.ipv4.ip_forward\n": "1"}
		}, "not a valid sysctl"},
		{"sysctl climbing", func(c *runtimeapi.PodSandboxConfig) {
			c.Linux.Sysctls = map[string]string{"net/../../kernel/core_pattern": "|/x"}
		}, "not a valid sysctl"},
		{"sysctl too long", func(c *runtimeapi.PodSandboxConfig) {
			c.Linux.Sysctls = map[string]string{"net." + strings.Repeat("a", 250): "1"}
		}, "not a valid sysctl"},
		{"sysctl not namespaced", func(c *runtimeapi.PodSandboxConfig) {
			c.Linux.Sysctls = map[string]string{"kernel.core_pattern": "|/x"}
		}, "not namespaced"},
		{"vm sysctl", func(c *runtimeapi.PodSandboxConfig) { c.Linux.Sysctls = map[string]string{"vm.overcommit_memory": "1"} }, "not namespaced"},
		{"net sysctl, host network", func(c *runtimeapi.PodSandboxConfig) {
			c.Linux.SecurityContext.NamespaceOptions.Network = runtimeapi.NamespaceMode_NODE
			c.Linux.Sysctls = map[string]string{"net.ipv4.ip_forward": "1"}
		}, "shares with the node"},
		{"ipc sysctl, host ipc", func(c *runtimeapi.PodSandboxConfig) {
			c.Linux.SecurityContext.NamespaceOptions.Ipc = runtimeapi.NamespaceMode_NODE
			c.Linux.Sysctls = map[string]string{"kernel.shmmax": "1"}
		}, "shares with the node"},
		{"user sysctl without a user namespace", func(c *runtimeapi.PodSandboxConfig) {
			c.Linux.Sysctls = map[string]string{"user.max_user_namespaces": "0"}
		}, "shares with the node"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := validPod()
			tc.mutate(c)
			err := validateConfig(c)
			if !errdefs.IsInvalidArgument(err) || !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("validateConfig = %v, want InvalidArgument saying %q", err, tc.says)
			}
		})
	}
}
