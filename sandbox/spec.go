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

// sandboxAnnotations are the annotations of the container that records a
// sandbox in containerd: the pause's, or an infra-less pod's record.
func sandboxAnnotations(md *Metadata) map[string]string {
	return map[string]string{
		annotationContainerType: "sandbox",
		annotationSandboxID:     md.ID,
		annotationSandboxName:   md.Config.GetMetadata().GetName(),
		annotationSandboxNS:     md.Config.GetMetadata().GetNamespace(),
		annotationSandboxUID:    md.Config.GetMetadata().GetUid(),
	}
}

// pauseOOMScoreAdj keeps the pause process, which holds the pod's
// namespaces, among the last the OOM killer picks (as containerd does).
const pauseOOMScoreAdj = -998

// pauseCPUShares is the smallest weight: pause never runs.
const pauseCPUShares = 2

// ClampOOMScoreAdj raises score to the node's minimum: without
// CAP_SYS_RESOURCE runc cannot lower a process's oom_score_adj below
// berthd's own, and the container would fail to start.
func ClampOOMScoreAdj(score, floor int) int { return max(score, floor) }

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
		oci.WithAnnotations(sandboxAnnotations(md)),
		withOOMScoreAdj(ClampOOMScoreAdj(pauseOOMScoreAdj, m.cfg.MinOOMScoreAdj)),
		withCPUShares(pauseCPUShares),
		WithSysctls(cfg.GetLinux().GetSysctls()),
		withShm(md.ShmPath),
	}
	// The pause joins the namespaces Berth pinned (prepareNode), as the
	// pod's containers do; it holds only the PID namespace of its own.
	opts = append(opts, PodNamespaceOpts(md)...)
	if !md.HostNetwork() {
		if h := md.Hostname(); h != "" {
			opts = append(opts, oci.WithHostname(h))
		}
	}
	opts = append(opts, withUserNamespace(md))
	if nsOpts.GetPid() == runtimeapi.NamespaceMode_NODE {
		opts = append(opts, oci.WithHostNamespace(specs.PIDNamespace))
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

// PodNamespaceOpts join the pod's network, IPC and UTS namespaces where
// Berth pinned them, or the node's for a pod that shares them. A pod
// recorded by a Berth before 2026-12 has no IPC and UTS pins: its pause
// holds them, and only its pause calls this.
func PodNamespaceOpts(md *Metadata) []oci.SpecOpts {
	join := func(typ specs.LinuxNamespaceType, path string) oci.SpecOpts {
		if path == "" {
			return oci.WithHostNamespace(typ)
		}
		return oci.WithLinuxNamespace(specs.LinuxNamespace{Type: typ, Path: path})
	}
	return []oci.SpecOpts{
		join(specs.NetworkNamespace, md.NetNSPath),
		join(specs.IPCNamespace, md.IPCNSPath),
		join(specs.UTSNamespace, md.UTSNSPath),
	}
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

// WithSysctls sets the pod's sysctls, which runc applies in the namespaces
// the process joins.
func WithSysctls(sysctls map[string]string) oci.SpecOpts {
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
