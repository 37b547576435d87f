package sandbox

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/containerd/containerd/v2/core/containers"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/containerd/containerd/v2/pkg/oci"
	"github.com/containerd/errdefs"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"google.golang.org/protobuf/proto"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// seedConfigs are requests as crictl and kubelet send them.
func seedConfigs() []*runtimeapi.PodSandboxConfig {
	uid := &runtimeapi.Int64Value{Value: 1000}
	return []*runtimeapi.PodSandboxConfig{
		{Metadata: &runtimeapi.PodSandboxMetadata{Name: "nginx", Namespace: "default", Uid: "u1"}, Linux: &runtimeapi.LinuxPodSandboxConfig{}},
		{
			Metadata: &runtimeapi.PodSandboxMetadata{Name: "web", Namespace: "prod", Uid: "8f4c", Attempt: 2},
			Hostname: "web", LogDirectory: "/var/log/pods/prod_web_8f4c",
			DnsConfig:    &runtimeapi.DNSConfig{Servers: []string{"10.96.0.10"}, Searches: []string{"prod.svc.cluster.local"}, Options: []string{"ndots:5"}},
			PortMappings: []*runtimeapi.PortMapping{{Protocol: runtimeapi.Protocol_UDP, ContainerPort: 53, HostPort: 5353, HostIp: "127.0.0.1"}},
			Labels:       map[string]string{"io.kubernetes.pod.name": "web"},
			Linux: &runtimeapi.LinuxPodSandboxConfig{
				CgroupParent: "/kubepods/burstable/pod8f4c",
				Sysctls:      map[string]string{"net.ipv4.ip_unprivileged_port_start": "0"},
				SecurityContext: &runtimeapi.LinuxSandboxSecurityContext{
					NamespaceOptions:   &runtimeapi.NamespaceOption{Pid: runtimeapi.NamespaceMode_POD, Ipc: runtimeapi.NamespaceMode_NODE},
					RunAsUser:          uid,
					RunAsGroup:         uid,
					SupplementalGroups: []int64{1, 2, 3},
				},
			},
		},
		{Metadata: &runtimeapi.PodSandboxMetadata{Name: "host", Namespace: "kube-system", Uid: "h"}, Linux: &runtimeapi.LinuxPodSandboxConfig{
			SecurityContext: &runtimeapi.LinuxSandboxSecurityContext{NamespaceOptions: &runtimeapi.NamespaceOption{Network: runtimeapi.NamespaceMode_NODE}},
		}},
	}
}

// FuzzSandboxConfig feeds arbitrary PodSandboxConfigs through everything
// RunPodSandbox does with a request before it touches the node: validation,
// naming, port mappings, pod files and the pause spec. Nothing may panic;
// what validation accepts must produce a spec or a classified error.
func FuzzSandboxConfig(f *testing.F) {
	for _, c := range seedConfigs() {
		data, err := proto.Marshal(c)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	m := NewManager(Config{MinOOMScoreAdj: 0})
	pause := &pauseImage{ref: "registry.k8s.io/pause:3.10.1", config: ocispec.ImageConfig{Entrypoint: []string{"/pause"}}}
	ctx := namespaces.WithNamespace(context.Background(), "berth")
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg := &runtimeapi.PodSandboxConfig{}
		if err := proto.Unmarshal(data, cfg); err != nil {
			return
		}
		if err := validateConfig(cfg); err != nil {
			if !errdefs.IsInvalidArgument(err) {
				t.Fatalf("validation error is not InvalidArgument: %v", err)
			}
			return
		}
		_ = makeName(cfg.Metadata)
		_ = hostPorts(portMappings(cfg))
		_ = dnsCapability(cfg.GetDnsConfig())
		dir := t.TempDir()
		if err := writeFiles(&Metadata{Dir: dir, Config: cfg}, "/etc/resolv.conf"); err != nil {
			t.Fatalf("pod files for a valid config: %v", err)
		}
		podFilesHoldOnlyWhatWasAsked(t, dir, cfg)
		md := &Metadata{ID: "fuzz", Config: cfg, NetNSPath: "/run/berth/netns/fuzz", ShmPath: "/run/berth/sandboxes/fuzz/shm"}
		spec := &oci.Spec{}
		_ = oci.ApplyOpts(ctx, nil, &containers.Container{ID: "fuzz"}, spec, m.pauseSpecOpts(md, pause)...)
	})
}

// podFilesHoldOnlyWhatWasAsked: a pod author's DNS config and hostname
// cannot add lines to the pod's resolv.conf or hostname file.
func podFilesHoldOnlyWhatWasAsked(t *testing.T, dir string, cfg *runtimeapi.PodSandboxConfig) {
	t.Helper()
	if b, err := os.ReadFile(filepath.Join(dir, HostnameFile)); err != nil || strings.Count(string(b), "\n") != 1 {
		t.Fatalf("hostname file %q (%v) is not one line", b, err)
	}
	dns := cfg.GetDnsConfig()
	if len(dns.GetServers())+len(dns.GetSearches())+len(dns.GetOptions()) == 0 {
		return // the node's resolv.conf
	}
	b, err := os.ReadFile(filepath.Join(dir, ResolvFile))
	if err != nil {
		t.Fatal(err)
	}
	servers := 0
	for _, line := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		switch {
		case strings.HasPrefix(line, "nameserver "):
			servers++
		case strings.HasPrefix(line, "search "), strings.HasPrefix(line, "options "):
		default:
			t.Fatalf("resolv.conf has a line no DNS config field makes: %q", line)
		}
	}
	if servers != len(dns.GetServers()) {
		t.Fatalf("resolv.conf has %d nameservers for %d asked", servers, len(dns.GetServers()))
	}
}
