package sandbox

import (
	"fmt"
	"net/netip"
	"regexp"
	"strings"
	"unicode"

	"github.com/containerd/errdefs"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// The checks here run before RunPodSandbox takes anything: the text they
// pass is written into the pod's resolv.conf, hosts and hostname files, or
// into /proc/sys by runc, and comes from pod authors.

// validateDNS refuses what would add lines to the pod's resolv.conf, or
// name a server no resolver can use: every nameserver must be an IP
// address, and searches and options plain words.
func validateDNS(dns *runtimeapi.DNSConfig) error {
	for _, s := range dns.GetServers() {
		if _, err := netip.ParseAddr(s); err != nil {
			return fmt.Errorf("dns nameserver %q is not an IP address: %w", s, errdefs.ErrInvalidArgument)
		}
	}
	for _, s := range dns.GetSearches() {
		if err := plainWord("dns search", s); err != nil {
			return err
		}
	}
	for _, o := range dns.GetOptions() {
		if err := plainWord("dns option", o); err != nil {
			return err
		}
	}
	return nil
}

// plainWord refuses whitespace and control characters: a newline in an
// option would be a new resolv.conf line, a space in a hostname a new
// alias in /etc/hosts.
func plainWord(what, s string) error {
	if strings.IndexFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0 {
		return fmt.Errorf("%s %q has whitespace or a control character: %w", what, s, errdefs.ErrInvalidArgument)
	}
	return nil
}

// sysctlName is kubelet's pattern for a sysctl name
// (k8s.io/kubernetes/pkg/apis/core/validation, SysctlContainSlashFmt),
// at most 253 characters.
var sysctlName = regexp.MustCompile(`^([a-z0-9]([-_a-z0-9]*[a-z0-9])?[./])*[a-z0-9]([-_a-z0-9]*[a-z0-9])?$`)

// sysctlIPC are the IPC namespace's sysctls (k8s.io/component-helpers
// node/util/sysctl); kernel.shm* and kernel.msg* are matched by prefix.
var sysctlIPC = map[string]bool{"kernel.sem": true}

// validateSysctls refuses, whatever the OCI runtime would do, a sysctl
// that would change the node rather than the pod: one that is not
// namespaced, or one of a namespace the pod shares with the node (as
// kubelet's allowlist does).
func validateSysctls(cfg *runtimeapi.PodSandboxConfig) error {
	ns := cfg.GetLinux().GetSecurityContext().GetNamespaceOptions()
	ids, _ := UserNamespace(ns.GetUsernsOptions()) // checked by validateUserNamespace
	for name := range cfg.GetLinux().GetSysctls() {
		if len(name) > 253 || !sysctlName.MatchString(name) {
			return fmt.Errorf("sysctl %q is not a valid sysctl name: %w", name, errdefs.ErrInvalidArgument)
		}
		dotted := dotSeparated(name)
		var shared bool
		switch {
		case strings.HasPrefix(dotted, "net."):
			shared = ns.GetNetwork() == runtimeapi.NamespaceMode_NODE
		case dotted == "kernel.domainname":
			// Host-network pods share the node's UTS namespace too.
			shared = ns.GetNetwork() == runtimeapi.NamespaceMode_NODE
		case sysctlIPC[dotted] || strings.HasPrefix(dotted, "kernel.shm") || strings.HasPrefix(dotted, "kernel.msg") || strings.HasPrefix(dotted, "fs.mqueue."):
			shared = ns.GetIpc() == runtimeapi.NamespaceMode_NODE
		case strings.HasPrefix(dotted, "user."):
			shared = !ids.Enabled()
		default:
			return fmt.Errorf("sysctl %q is not namespaced: setting it would change the node: %w", name, errdefs.ErrInvalidArgument)
		}
		if shared {
			return fmt.Errorf("sysctl %q belongs to a namespace the pod shares with the node: %w", name, errdefs.ErrInvalidArgument)
		}
	}
	return nil
}

// dotSeparated turns kubelet's slash form ("net/ipv4/ip_forward", where a
// dot is part of a name) into the dotted one, as kubelet does.
func dotSeparated(name string) string {
	i := strings.IndexAny(name, "./")
	if i < 0 || name[i] == '.' {
		return name
	}
	return strings.Map(func(r rune) rune {
		switch r {
		case '/':
			return '.'
		case '.':
			return '/'
		}
		return r
	}, name)
}
