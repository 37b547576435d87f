package sandbox

import (
	"context"
	"fmt"
	"strconv"

	"github.com/containerd/containerd/v2/core/containers"
	"github.com/containerd/containerd/v2/pkg/oci"
	"github.com/opencontainers/runtime-spec/specs-go"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/berth-cri/berth/seccomp"
)

// Annotations on the pause container, in the names containerd's CRI uses so
// that NRI plugins and node tools recognise sandboxes.
const (
	annotationContainerType = "io.kubernetes.cri.container-type"
	annotationSandboxID     = "io.kubernetes.cri.sandbox-id"
	annotationSandboxName   = "io.kubernetes.cri.sandbox-name"
	annotationSandboxNS     = "io.kubernetes.cri.sandbox-namespace"
	annotationSandboxUID    = "io.kubernetes.cri.sandbox-uid"
)

// pauseOOMScoreAdj keeps the pause process, which holds the pod's
// namespaces, among the last the OOM killer picks (as containerd does).
const pauseOOMScoreAdj = -998

// pauseCPUShares is the smallest weight: pause never runs.
const pauseCPUShares = 2

// ClampOOMScoreAdj raises score to the node's minimum: without
// CAP_SYS_RESOURCE runc cannot lower a process's oom_score_adj below
// berthd's own, and the container would fail to start.
func ClampOOMScoreAdj(score, min int) int { return max(score, min) }

// pauseSpecOpts builds the pause container's OCI spec.
func (m *Manager) pauseSpecOpts(md *Metadata, p *pauseImage) []oci.SpecOpts {
	cfg := md.Config
	nsOpts := cfg.GetLinux().GetSecurityContext().GetNamespaceOptions()
	args := append(append([]string{}, p.config.Entrypoint...), p.config.Cmd...)
	if len(args) == 0 {
		args = []string{"/pause"}
	}
	opts := []oci.SpecOpts{
		oci.WithDefaultSpec(),
		WithoutDefaultRlimits,
		oci.WithProcessArgs(args...),
		oci.WithEnv(p.config.Env),
		oci.WithRootFSReadonly(),
		oci.WithNoNewPrivileges,
		oci.WithCapabilities(nil), // pause needs none
		oci.WithCgroup(md.PauseCgroupsPath()),
		oci.WithAnnotations(map[string]string{
			annotationContainerType: "sandbox",
			annotationSandboxID:     md.ID,
			annotationSandboxName:   cfg.GetMetadata().GetName(),
			annotationSandboxNS:     cfg.GetMetadata().GetNamespace(),
			annotationSandboxUID:    cfg.GetMetadata().GetUid(),
		}),
		withOOMScoreAdj(ClampOOMScoreAdj(pauseOOMScoreAdj, m.cfg.MinOOMScoreAdj)),
		withCPUShares(pauseCPUShares),
		withSysctls(cfg.GetLinux().GetSysctls()),
		withShm(md.ShmPath),
	}
	if md.HostNetwork() {
		opts = append(opts, oci.WithHostNamespace(specs.NetworkNamespace), oci.WithHostNamespace(specs.UTSNamespace))
	} else {
		opts = append(opts, oci.WithLinuxNamespace(specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: md.NetNSPath}))
		if h := md.Hostname(); h != "" {
			opts = append(opts, oci.WithHostname(h))
		}
	}
	opts = append(opts, withUserNamespace(md))
	if nsOpts.GetPid() == runtimeapi.NamespaceMode_NODE {
		opts = append(opts, oci.WithHostNamespace(specs.PIDNamespace))
	}
	if nsOpts.GetIpc() == runtimeapi.NamespaceMode_NODE {
		opts = append(opts, oci.WithHostNamespace(specs.IPCNamespace))
	}
	if sc := cfg.GetLinux().GetSecurityContext(); sc != nil {
		if u := sc.GetRunAsUser(); u != nil {
			gid := uint32(0)
			if g := sc.GetRunAsGroup(); g != nil {
				gid = uint32(g.GetValue())
			}
			// Numbers only: oci.WithUserID would mount the rootfs to read
			// its /etc/passwd, and the pause's snapshot is still being
			// prepared beside this spec (makePause). The pause image has
			// no passwd: the group is the pod's, or root's as runc's.
			opts = append(opts, withUser(uint32(u.GetValue()), gid))
		}
		if groups := sc.GetSupplementalGroups(); len(groups) > 0 {
			opts = append(opts, withAdditionalGIDs(groups))
		}
	}
	// pause is confined whatever the pod asks (seccomp.SandboxOpts): it
	// only waits for signals, and it holds the pod's namespaces.
	return append(opts, seccomp.SandboxOpts(cfg.GetLinux().GetSecurityContext()))
}

func withOOMScoreAdj(score int) oci.SpecOpts {
	return func(_ context.Context, _ oci.Client, _ *containers.Container, s *oci.Spec) error {
		s.Process.OOMScoreAdj = &score
		return nil
	}
}

func withCPUShares(shares uint64) oci.SpecOpts {
	return func(_ context.Context, _ oci.Client, _ *containers.Container, s *oci.Spec) error {
		if s.Linux.Resources == nil {
			s.Linux.Resources = &specs.LinuxResources{}
		}
		if s.Linux.Resources.CPU == nil {
			s.Linux.Resources.CPU = &specs.LinuxCPU{}
		}
		s.Linux.Resources.CPU.Shares = &shares
		return nil
	}
}

func withSysctls(sysctls map[string]string) oci.SpecOpts {
	return func(_ context.Context, _ oci.Client, _ *containers.Container, s *oci.Spec) error {
		if len(sysctls) == 0 {
			return nil
		}
		if s.Linux.Sysctl == nil {
			s.Linux.Sysctl = map[string]string{}
		}
		for k, v := range sysctls {
			s.Linux.Sysctl[k] = v
		}
		return nil
	}
}

// withShm replaces the default tmpfs /dev/shm with the pod's own (shared by
// its containers) or, for host IPC, the host's.
func withShm(shmPath string) oci.SpecOpts {
	return func(_ context.Context, _ oci.Client, _ *containers.Container, s *oci.Spec) error {
		source := shmPath
		if source == "" {
			source = "/dev/shm"
		}
		mounts := s.Mounts[:0]
		for _, mnt := range s.Mounts {
			if mnt.Destination != "/dev/shm" {
				mounts = append(mounts, mnt)
			}
		}
		s.Mounts = append(mounts, specs.Mount{
			Destination: "/dev/shm", Type: "bind", Source: source,
			Options: []string{"rbind", "ro", "nosuid", "nodev", "noexec"},
		})
		return nil
	}
}

func withUser(uid, gid uint32) oci.SpecOpts {
	return func(_ context.Context, _ oci.Client, _ *containers.Container, s *oci.Spec) error {
		s.Process.User.UID, s.Process.User.GID = uid, gid
		return nil
	}
}

func withAdditionalGIDs(groups []int64) oci.SpecOpts {
	return func(_ context.Context, _ oci.Client, _ *containers.Container, s *oci.Spec) error {
		for _, g := range groups {
			if g < 0 || g > int64(^uint32(0)) {
				return fmt.Errorf("supplemental group %s out of range", strconv.FormatInt(g, 10))
			}
			s.Process.User.AdditionalGids = append(s.Process.User.AdditionalGids, uint32(g))
		}
		return nil
	}
}
