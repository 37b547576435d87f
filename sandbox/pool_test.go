package sandbox

import (
	"testing"

	"google.golang.org/protobuf/proto"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

func TestPoolKeySharesPausesOnlyBetweenPodsWhosePauseIsTheSame(t *testing.T) {
	base := func() *runtimeapi.PodSandboxConfig {
		return &runtimeapi.PodSandboxConfig{
			Metadata: &runtimeapi.PodSandboxMetadata{Name: "a", Namespace: "ns", Uid: "u1"},
			Hostname: "a",
			Linux: &runtimeapi.LinuxPodSandboxConfig{
				CgroupParent: "/kubepods/besteffort/podu1",
				SecurityContext: &runtimeapi.LinuxSandboxSecurityContext{
					NamespaceOptions: &runtimeapi.NamespaceOption{Pid: runtimeapi.NamespaceMode_CONTAINER},
					RunAsUser:        &runtimeapi.Int64Value{Value: 65535},
				},
			},
		}
	}
	key, ok := poolKey(base(), "")
	if !ok {
		t.Fatal("a plain pod is not poolable")
	}
	same := map[string]func(*runtimeapi.PodSandboxConfig){
		"another pod's metadata": func(c *runtimeapi.PodSandboxConfig) {
			c.Metadata = &runtimeapi.PodSandboxMetadata{Name: "b", Namespace: "other", Uid: "u2", Attempt: 3}
		},
		"another hostname":      func(c *runtimeapi.PodSandboxConfig) { c.Hostname = "b" },
		"another cgroup parent": func(c *runtimeapi.PodSandboxConfig) { c.Linux.CgroupParent = "/kubepods/burstable/podu2" },
		"labels, annotations, ports and DNS": func(c *runtimeapi.PodSandboxConfig) {
			c.Labels = map[string]string{"app": "b"}
			c.Annotations = map[string]string{"x": "y"}
			c.PortMappings = []*runtimeapi.PortMapping{{HostPort: 8080, ContainerPort: 80}}
			c.DnsConfig = &runtimeapi.DNSConfig{Servers: []string{"10.0.0.10"}}
		},
	}
	for name, change := range same {
		cfg := base()
		change(cfg)
		if k, ok := poolKey(cfg, ""); !ok || k != key {
			t.Errorf("%s: key differs (poolable %v), but the pause's spec would not", name, ok)
		}
	}
	differ := map[string]func(*runtimeapi.PodSandboxConfig){
		"another user": func(c *runtimeapi.PodSandboxConfig) { c.Linux.SecurityContext.RunAsUser.Value = 1000 },
		"a group": func(c *runtimeapi.PodSandboxConfig) {
			c.Linux.SecurityContext.RunAsGroup = &runtimeapi.Int64Value{Value: 5}
		},
		"host IPC": func(c *runtimeapi.PodSandboxConfig) {
			c.Linux.SecurityContext.NamespaceOptions.Ipc = runtimeapi.NamespaceMode_NODE
		},
		"seccomp": func(c *runtimeapi.PodSandboxConfig) {
			c.Linux.SecurityContext.Seccomp = &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_RuntimeDefault}
		},
	}
	for name, change := range differ {
		cfg := base()
		change(cfg)
		if k, ok := poolKey(cfg, ""); ok && k == key {
			t.Errorf("%s: same key, but the pause's spec differs", name)
		}
	}
	if k, ok := poolKey(base(), "runc"); ok && k == key {
		t.Error(`handler "runc": same key as the default handler's`)
	}
	never := map[string]func(*runtimeapi.PodSandboxConfig){
		"host network": func(c *runtimeapi.PodSandboxConfig) {
			c.Linux.SecurityContext.NamespaceOptions.Network = runtimeapi.NamespaceMode_NODE
		},
		"sysctls": func(c *runtimeapi.PodSandboxConfig) {
			c.Linux.Sysctls = map[string]string{"net.ipv4.ip_unprivileged_port_start": "0"}
		},
		"a user namespace": func(c *runtimeapi.PodSandboxConfig) {
			c.Linux.SecurityContext.NamespaceOptions.UsernsOptions = &runtimeapi.UserNamespace{
				Mode: runtimeapi.NamespaceMode_POD,
				Uids: []*runtimeapi.IDMapping{{HostId: 65536, ContainerId: 0, Length: 65536}},
				Gids: []*runtimeapi.IDMapping{{HostId: 65536, ContainerId: 0, Length: 65536}},
			}
		},
	}
	for name, change := range never {
		cfg := base()
		change(cfg)
		if _, ok := poolKey(cfg, ""); ok {
			t.Errorf("%s: poolable, but its pause needs what only its pod gives", name)
		}
	}
}

func TestPoolTemplateKeepsTheShapeAndNothingOfThePod(t *testing.T) {
	cfg := &runtimeapi.PodSandboxConfig{
		Metadata: &runtimeapi.PodSandboxMetadata{Name: "a", Namespace: "ns", Uid: "u1"},
		Hostname: "a",
		Labels:   map[string]string{"app": "a"},
		Linux: &runtimeapi.LinuxPodSandboxConfig{
			CgroupParent:    "/kubepods/podu1",
			SecurityContext: &runtimeapi.LinuxSandboxSecurityContext{RunAsUser: &runtimeapi.Int64Value{Value: 7}},
		},
	}
	tmpl := poolTemplate(cfg, "id1")
	k1, _ := poolKey(cfg, "")
	k2, ok := poolKey(tmpl, "")
	if !ok || k1 != k2 {
		t.Error("the template's pause is not the pod's")
	}
	if tmpl.Linux.CgroupParent != poolCgroupParent || tmpl.Hostname == cfg.Hostname || len(tmpl.Labels) > 0 ||
		proto.Equal(tmpl.Metadata, cfg.Metadata) {
		t.Errorf("the template carries the pod's own settings: %v", tmpl)
	}
	// The template is a copy: a later change to the pod's config (kubelet
	// reuses nothing, but a test might) does not reshape the pool.
	cfg.Linux.SecurityContext.RunAsUser.Value = 8
	if k3, _ := poolKey(tmpl, ""); k3 != k2 {
		t.Error("the template shares the pod's security context")
	}
}
