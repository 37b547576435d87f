package container

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/containerd/containerd/v2/core/containers"
	"github.com/containerd/containerd/v2/pkg/oci"
	"github.com/containerd/errdefs"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/opencontainers/runtime-spec/specs-go"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/berth-cri/berth/internal/host"
	"github.com/berth-cri/berth/sandbox"
)

// Annotations on a container's spec, in the names containerd's CRI uses so
// that NRI plugins and node tools recognise them.
const (
	annotationContainerType = "io.kubernetes.cri.container-type"
	annotationContainerName = "io.kubernetes.cri.container-name"
	annotationSandboxID     = "io.kubernetes.cri.sandbox-id"
	annotationImageName     = "io.kubernetes.cri.image-name"
)

// specParams is everything a container's OCI spec is built from.
type specParams struct {
	ID      string
	Config  *runtimeapi.ContainerConfig
	Sandbox *sandbox.Sandbox
	// SandboxPid is the pause process, whose IPC, UTS and PID namespaces
	// the container joins; TargetPid is the target container's process
	// for PID namespace mode TARGET.
	SandboxPid, TargetPid uint32
	// IDs are the pod's user namespace mappings, which the container
	// joins; empty for the node's user namespace.
	IDs            sandbox.IDMappings
	Image          ocispec.ImageConfig
	ImageName      string
	CgroupsPath    string
	MinOOMScoreAdj int
	Host           host.Facts
	Security       Security
}

// privateCgroupNS says whether the container gets its own cgroup
// namespace, as containerd decides: on cgroup v2, unless privileged (a
// privileged container sees and may manage the node's cgroups). On v1 none
// does, for compatibility with what containers saw so far.
func privateCgroupNS(h host.Facts, privileged bool) bool { return h.CgroupV2 && !privileged }

// cgroupMount is the container's /sys/fs/cgroup: read-only (a privileged
// container's is made writable by oci.WithPrivileged). In its own cgroup
// namespace it shows the container's cgroup alone; in the host's it is the
// host's cgroup2 superblock, whose flags it keeps.
func cgroupMount(h host.Facts, privateNS bool) specs.Mount {
	opts := []string{"nosuid", "noexec", "nodev", "relatime", "ro"}
	if !privateNS {
		opts = append(opts, h.CgroupSuperblockFlags...)
	}
	return specs.Mount{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: opts}
}

// specOpts builds the container's OCI spec options. The user options read
// the image's /etc/passwd and /etc/group, so they need the container's
// snapshot set on the containers.Container they run against.
func specOpts(p specParams) ([]oci.SpecOpts, error) {
	cfg := p.Config
	sc := cfg.GetLinux().GetSecurityContext()
	sbSC := p.Sandbox.Config.GetLinux().GetSecurityContext()
	args, err := processArgs(cfg, p.Image)
	if err != nil {
		return nil, err
	}
	cwd := cfg.GetWorkingDir()
	if cwd == "" {
		cwd = p.Image.WorkingDir
	}
	if cwd == "" {
		cwd = "/"
	}
	hostname := p.Sandbox.Hostname()
	opts := []oci.SpecOpts{
		oci.WithDefaultSpec(),
		sandbox.WithoutDefaultRlimits,
		oci.WithoutRunMount,
		oci.WithProcessArgs(args...),
		oci.WithProcessCwd(cwd),
		oci.WithEnv(p.Image.Env),
		oci.WithEnv([]string{"HOSTNAME=" + hostname}),
		oci.WithEnv(criEnv(cfg.GetEnvs())),
		withMounts(cfg.GetMounts(), sandboxMounts(p.Sandbox, sc.GetReadonlyRootfs()), cgroupMount(p.Host, privateCgroupNS(p.Host, sc.GetPrivileged()))),
		oci.WithCgroup(p.CgroupsPath),
		withResources(cfg.GetLinux().GetResources(), p.Host),
		withOOMScoreAdj(sandbox.ClampOOMScoreAdj(int(cfg.GetLinux().GetResources().GetOomScoreAdj()), p.MinOOMScoreAdj)),
		oci.WithAnnotations(map[string]string{
			annotationContainerType: "container",
			annotationContainerName: cfg.GetMetadata().GetName(),
			annotationSandboxID:     p.Sandbox.ID,
			annotationImageName:     p.ImageName,
		}),
	}
	if cfg.GetTty() {
		opts = append(opts, oci.WithTTY)
	}
	nsOpts, err := namespaceOpts(p, sc.GetNamespaceOptions())
	if err != nil {
		return nil, err
	}
	opts = append(opts, nsOpts...)
	if privateCgroupNS(p.Host, sc.GetPrivileged()) {
		opts = append(opts, oci.WithLinuxNamespace(specs.LinuxNamespace{Type: specs.CgroupNamespace}))
	}

	if sc.GetPrivileged() {
		if !sbSC.GetPrivileged() {
			return nil, fmt.Errorf("privileged container in a sandbox that is not privileged: %w", errdefs.ErrInvalidArgument)
		}
		opts = append(opts, privilegedOpts()...)
	} else {
		opts = append(opts, unprivilegedOpts(sc)...)
	}
	for _, d := range cfg.GetDevices() {
		perms := d.GetPermissions()
		if perms == "" {
			perms = "rwm"
		}
		opts = append(opts, withDevice(d.GetHostPath(), d.GetContainerPath(), perms))
	}
	// containerd's default spec sets no_new_privs: a set-user-ID program
	// must work unless the pod asks otherwise (allowPrivilegeEscalation).
	if sc.GetNoNewPrivs() {
		opts = append(opts, oci.WithNoNewPrivileges)
	} else {
		opts = append(opts, oci.WithNewPrivileges)
	}
	if sc.GetReadonlyRootfs() {
		opts = append(opts, oci.WithRootFSReadonly())
	}
	opts = append(opts, userOpts(sc, p.Image.User)...)
	secOpts, err := securityOpts(p.Security, sc)
	if err != nil {
		return nil, err
	}
	return append(opts, secOpts...), nil
}

// processArgs merges the CRI command and args with the image's entrypoint
// and cmd the way Kubernetes documents it: a command replaces the
// entrypoint (and drops the image's cmd); args replace the cmd.
func processArgs(cfg *runtimeapi.ContainerConfig, img ocispec.ImageConfig) ([]string, error) {
	var args []string
	switch {
	case len(cfg.GetCommand()) > 0:
		args = append(append(args, cfg.GetCommand()...), cfg.GetArgs()...)
	case len(cfg.GetArgs()) > 0:
		args = append(append(args, img.Entrypoint...), cfg.GetArgs()...)
	default:
		args = append(append(args, img.Entrypoint...), img.Cmd...)
	}
	if len(args) == 0 {
		return nil, fmt.Errorf("no command given and the image has no entrypoint or cmd: %w", errdefs.ErrInvalidArgument)
	}
	return args, nil
}

func criEnv(kvs []*runtimeapi.KeyValue) []string {
	out := make([]string, 0, len(kvs))
	for _, kv := range kvs {
		out = append(out, kv.GetKey()+"="+string(kv.GetValue()))
	}
	return out
}

// withMounts adds the cgroup mount, the CRI mounts and the sandbox's,
// parents before children, replacing default mounts at the same
// destination. A missing host path is created as a directory, as kubelet
// expects of runtimes.
func withMounts(criMounts, extra []*runtimeapi.Mount, cgroup specs.Mount) oci.SpecOpts {
	return func(_ context.Context, _ oci.Client, _ *containers.Container, s *oci.Spec) error {
		mounts := append([]*runtimeapi.Mount{}, criMounts...)
		taken := map[string]bool{}
		for _, m := range criMounts {
			taken[filepath.Clean(m.GetContainerPath())] = true
		}
		for _, m := range extra {
			if !taken[filepath.Clean(m.GetContainerPath())] {
				mounts = append(mounts, m)
				taken[filepath.Clean(m.GetContainerPath())] = true
			}
		}
		sort.SliceStable(mounts, func(i, j int) bool {
			return depth(mounts[i].GetContainerPath()) < depth(mounts[j].GetContainerPath())
		})
		kept := s.Mounts[:0]
		for _, m := range s.Mounts {
			dst := filepath.Clean(m.Destination)
			if taken[dst] || (taken["/dev"] && strings.HasPrefix(dst, "/dev/")) {
				continue
			}
			kept = append(kept, m)
		}
		s.Mounts = append(kept, cgroup)
		for _, m := range mounts {
			mnt, rootProp, err := bindMount(m, ensureHostPath)
			if err != nil {
				return err
			}
			if rootProp == "rshared" || (rootProp == "rslave" && s.Linux.RootfsPropagation != "rshared") {
				s.Linux.RootfsPropagation = rootProp
			}
			s.Mounts = append(s.Mounts, mnt)
		}
		return nil
	}
}

func depth(p string) int { return strings.Count(filepath.Clean(p), "/") }

// bindMount turns a CRI mount into an OCI bind mount, and says which root
// propagation it needs ("" for none).
// The host path is made ready by hostPath (ensureHostPath on the node).
func bindMount(m *runtimeapi.Mount, hostPath func(string) (string, error)) (specs.Mount, string, error) {
	dst := m.GetContainerPath()
	if !filepath.IsAbs(dst) {
		return specs.Mount{}, "", fmt.Errorf("mount destination %q is not absolute: %w", dst, errdefs.ErrInvalidArgument)
	}
	if !filepath.IsAbs(m.GetHostPath()) {
		// It would be created relative to berthd's working directory.
		return specs.Mount{}, "", fmt.Errorf("mount source %q is not absolute: %w", m.GetHostPath(), errdefs.ErrInvalidArgument)
	}
	src, err := hostPath(m.GetHostPath())
	if err != nil {
		return specs.Mount{}, "", err
	}
	opts := []string{"rbind"}
	rootProp := ""
	switch m.GetPropagation() {
	case runtimeapi.MountPropagation_PROPAGATION_HOST_TO_CONTAINER:
		opts, rootProp = append(opts, "rslave"), "rslave"
	case runtimeapi.MountPropagation_PROPAGATION_BIDIRECTIONAL:
		opts, rootProp = append(opts, "rshared"), "rshared"
	default:
		opts = append(opts, "rprivate")
	}
	if m.GetRecursiveReadOnly() && m.GetPropagation() != runtimeapi.MountPropagation_PROPAGATION_PRIVATE {
		// A mount that later appears below it would arrive writable.
		return specs.Mount{}, "", fmt.Errorf("recursive read-only mount of %q needs private propagation, not %s: %w", src, m.GetPropagation(), errdefs.ErrInvalidArgument)
	}
	switch {
	case m.GetReadonly() && m.GetRecursiveReadOnly():
		opts = append(opts, "rro")
	case m.GetReadonly():
		opts = append(opts, "ro")
	case m.GetRecursiveReadOnly():
		return specs.Mount{}, "", fmt.Errorf("recursive read-only mount of %q must be read-only: %w", src, errdefs.ErrInvalidArgument)
	default:
		opts = append(opts, "rw")
	}
	mnt := specs.Mount{Destination: dst, Type: "bind", Source: src, Options: opts}
	// An idmapped mount (runc, mount_setattr): files the host gives to
	// mapped IDs show as owned by the container IDs they map from.
	mnt.UIDMappings, err = mountIDMappings("UID", src, m.GetUidMappings())
	if err != nil {
		return specs.Mount{}, "", err
	}
	mnt.GIDMappings, err = mountIDMappings("GID", src, m.GetGidMappings())
	if err != nil {
		return specs.Mount{}, "", err
	}
	if (len(mnt.UIDMappings) == 0) != (len(mnt.GIDMappings) == 0) {
		return specs.Mount{}, "", fmt.Errorf("idmapped mount of %q needs both UID and GID mappings: %w", src, errdefs.ErrInvalidArgument)
	}
	return mnt, rootProp, nil
}

// ensureHostPath readies a bind mount's host path: a missing one is
// created as a directory, as kubelet expects of runtimes, and symlinks
// are resolved.
func ensureHostPath(src string) (string, error) {
	if _, err := os.Stat(src); os.IsNotExist(err) {
		if err := os.MkdirAll(src, 0o755); err != nil { //nolint:gosec // a missing hostPath is made as kubelet expects of runtimes (DirectoryOrCreate is 0755)
			return "", fmt.Errorf("create mount source %q: %w", src, err)
		}
	} else if err != nil {
		return "", fmt.Errorf("mount source %q: %w", src, err)
	}
	resolved, err := filepath.EvalSymlinks(src)
	if err != nil {
		return "", fmt.Errorf("mount source %q: %w", src, err)
	}
	return resolved, nil
}

func mountIDMappings(kind, src string, ms []*runtimeapi.IDMapping) ([]specs.LinuxIDMapping, error) {
	var out []specs.LinuxIDMapping
	for _, m := range ms {
		if m.GetLength() == 0 || uint64(m.GetHostId())+uint64(m.GetLength()) > math.MaxUint32 || uint64(m.GetContainerId())+uint64(m.GetLength()) > math.MaxUint32 {
			return nil, fmt.Errorf("%s mapping %d:%d:%d of the mount of %q is empty or out of range: %w", kind, m.GetContainerId(), m.GetHostId(), m.GetLength(), src, errdefs.ErrInvalidArgument)
		}
		out = append(out, specs.LinuxIDMapping{ContainerID: m.GetContainerId(), HostID: m.GetHostId(), Size: m.GetLength()})
	}
	return out, nil
}

// namespaceOpts joins the sandbox's namespaces: network, IPC and UTS where
// Berth pinned them (or the node's), the user namespace likewise, and the
// PID namespace the CRI mode asks for: the pause's for POD. A pod recorded
// by a Berth before 2026-12 has no IPC and UTS pins: they are joined
// through its pause.
func namespaceOpts(p specParams, ns *runtimeapi.NamespaceOption) ([]oci.SpecOpts, error) {
	sb := p.Sandbox
	proc := func(pid uint32, typ string) string { return fmt.Sprintf("/proc/%d/ns/%s", pid, typ) }
	join := func(typ specs.LinuxNamespaceType, path string) oci.SpecOpts {
		return oci.WithLinuxNamespace(specs.LinuxNamespace{Type: typ, Path: path})
	}
	opts := sandbox.PodNamespaceOpts(&sb.Metadata)
	if sb.UTSNSPath == "" && !sb.HostNetwork() {
		opts = append(opts, join(specs.UTSNamespace, proc(p.SandboxPid, "uts")))
	}
	if sb.IPCNSPath == "" && sb.ShmPath != "" {
		opts = append(opts, join(specs.IPCNamespace, proc(p.SandboxPid, "ipc")))
	}
	if p.IDs.Enabled() {
		userns := sb.UserNSPath
		if userns == "" {
			userns = proc(p.SandboxPid, "user")
		}
		opts = append(opts, join(specs.UserNamespace, userns), oci.WithUserNamespace(p.IDs.UIDs, p.IDs.GIDs))
	}
	switch ns.GetPid() {
	case runtimeapi.NamespaceMode_NODE:
		opts = append(opts, oci.WithHostNamespace(specs.PIDNamespace))
	case runtimeapi.NamespaceMode_POD:
		if sb.Infraless || p.SandboxPid == 0 {
			return nil, fmt.Errorf("sandbox %s has no pod PID namespace to share (its pod does not share one): %w", sb.ID, errdefs.ErrFailedPrecondition)
		}
		opts = append(opts, join(specs.PIDNamespace, proc(p.SandboxPid, "pid")))
	case runtimeapi.NamespaceMode_TARGET:
		if p.TargetPid == 0 {
			return nil, fmt.Errorf("PID namespace target %q is not running: %w", ns.GetTargetId(), errdefs.ErrFailedPrecondition)
		}
		opts = append(opts, join(specs.PIDNamespace, proc(p.TargetPid, "pid")))
	}
	if sb.Infraless {
		// No pause applied the pod's sysctls: runc applies them in the
		// pod's namespaces as each container starts, to the same values.
		opts = append(opts, sandbox.WithSysctls(sb.Config.GetLinux().GetSysctls()))
	}
	return opts, nil
}

// capabilityOpts applies CRI's add and drop lists, which name capabilities
// without the CAP_ prefix. ALL is applied first, so that "add ALL, drop
// CHOWN" means every capability but CAP_CHOWN.
func capabilityOpts(c *runtimeapi.Capability) []oci.SpecOpts {
	if c == nil {
		return nil
	}
	var opts []oci.SpecOpts
	if hasAll(c.GetAddCapabilities()) {
		opts = append(opts, withAllCapabilities)
	}
	if hasAll(c.GetDropCapabilities()) {
		opts = append(opts, oci.WithCapabilities(nil))
	}
	if add := capNames(c.GetAddCapabilities()); len(add) > 0 {
		opts = append(opts, oci.WithAddedCapabilities(add))
	}
	if drop := capNames(c.GetDropCapabilities()); len(drop) > 0 {
		opts = append(opts, oci.WithDroppedCapabilities(drop))
	}
	if amb := capNames(c.GetAddAmbientCapabilities()); len(amb) > 0 {
		opts = append(opts, oci.WithAmbientCapabilities(amb))
	}
	return opts
}

func hasAll(caps []string) bool {
	for _, c := range caps {
		if strings.EqualFold(c, "ALL") {
			return true
		}
	}
	return false
}

func capNames(caps []string) []string {
	var out []string
	for _, c := range caps {
		if strings.EqualFold(c, "ALL") {
			continue
		}
		c = strings.ToUpper(c)
		if !strings.HasPrefix(c, "CAP_") {
			c = "CAP_" + c
		}
		out = append(out, c)
	}
	return out
}

// linuxResources converts CRI resources to the OCI ones. Zero means unset
// in CRI. Swap is only set where the node accounts it (runc fails
// otherwise), and unified only on cgroup v2.
func linuxResources(r *runtimeapi.LinuxContainerResources, h host.Facts) *specs.LinuxResources {
	out := &specs.LinuxResources{CPU: &specs.LinuxCPU{}, Memory: &specs.LinuxMemory{}}
	if r == nil {
		return out
	}
	if v := r.GetCpuShares(); v > 0 {
		shares := uint64(v)
		out.CPU.Shares = &shares
	}
	if v := r.GetCpuQuota(); v != 0 {
		quota := v
		out.CPU.Quota = &quota
	}
	if v := r.GetCpuPeriod(); v > 0 {
		period := uint64(v)
		out.CPU.Period = &period
	}
	out.CPU.Cpus, out.CPU.Mems = r.GetCpusetCpus(), r.GetCpusetMems()
	if v := r.GetMemoryLimitInBytes(); v > 0 {
		limit := v
		out.Memory.Limit = &limit
	}
	if v := r.GetMemorySwapLimitInBytes(); v > 0 && h.Swap {
		swap := v
		out.Memory.Swap = &swap
	}
	for _, hp := range r.GetHugepageLimits() {
		if h.Hugetlb {
			out.HugepageLimits = append(out.HugepageLimits, specs.LinuxHugepageLimit{Pagesize: hp.GetPageSize(), Limit: hp.GetLimit()})
		}
	}
	if len(r.GetUnified()) > 0 && h.CgroupV2 {
		out.Unified = map[string]string{}
		for k, v := range r.GetUnified() {
			out.Unified[k] = v
		}
	}
	return out
}

// withResources sets CPU, memory, hugepage and unified limits, keeping the
// default spec's device rules.
func withResources(r *runtimeapi.LinuxContainerResources, h host.Facts) oci.SpecOpts {
	return func(_ context.Context, _ oci.Client, _ *containers.Container, s *oci.Spec) error {
		res := linuxResources(r, h)
		if s.Linux.Resources == nil {
			s.Linux.Resources = &specs.LinuxResources{}
		}
		s.Linux.Resources.CPU = res.CPU
		s.Linux.Resources.Memory = res.Memory
		s.Linux.Resources.HugepageLimits = res.HugepageLimits
		s.Linux.Resources.Unified = res.Unified
		return nil
	}
}

func withOOMScoreAdj(score int) oci.SpecOpts {
	return func(_ context.Context, _ oci.Client, _ *containers.Container, s *oci.Spec) error {
		s.Process.OOMScoreAdj = &score
		return nil
	}
}

// userOpts resolves the process's user: RunAsUser, else RunAsUsername,
// else the image's user, against the image's /etc/passwd; RunAsGroup
// overrides the group. The user's groups from the image's /etc/group come
// first, then the CRI supplemental groups (policy Merge), or only the CRI
// ones (policy Strict).
func userOpts(sc *runtimeapi.LinuxContainerSecurityContext, imageUser string) []oci.SpecOpts {
	var opts []oci.SpecOpts
	userstr := "0"
	switch {
	case sc.GetRunAsUser() != nil:
		uid := sc.GetRunAsUser().GetValue()
		opts = append(opts, oci.WithUserID(uint32(uid)))
		userstr = strconv.FormatInt(uid, 10)
	case sc.GetRunAsUsername() != "":
		opts = append(opts, oci.WithUsername(sc.GetRunAsUsername()))
		userstr = sc.GetRunAsUsername()
	case imageUser != "":
		opts = append(opts, oci.WithUser(imageUser))
		userstr, _, _ = strings.Cut(imageUser, ":")
	}
	if g := sc.GetRunAsGroup(); g != nil {
		opts = append(opts, withGID(uint32(g.GetValue())))
	}
	if sc.GetSupplementalGroupsPolicy() == runtimeapi.SupplementalGroupsPolicy_Merge {
		opts = append(opts, oci.WithAdditionalGIDs(userstr))
	}
	return append(opts, withSupplementalGroups(sc.GetSupplementalGroups()))
}

func withGID(gid uint32) oci.SpecOpts {
	return func(_ context.Context, _ oci.Client, _ *containers.Container, s *oci.Spec) error {
		s.Process.User.GID = gid
		return nil
	}
}

// withSupplementalGroups appends the CRI groups, and keeps the primary
// group in the list (as the kernel reports it in /proc/self/status).
func withSupplementalGroups(groups []int64) oci.SpecOpts {
	return func(_ context.Context, _ oci.Client, _ *containers.Container, s *oci.Spec) error {
		have := map[uint32]bool{}
		for _, g := range s.Process.User.AdditionalGids {
			have[g] = true
		}
		add := func(g uint32) {
			if !have[g] {
				have[g] = true
				s.Process.User.AdditionalGids = append(s.Process.User.AdditionalGids, g)
			}
		}
		add(s.Process.User.GID)
		for _, g := range groups {
			if g < 0 || g > int64(^uint32(0)) {
				return fmt.Errorf("supplemental group %d out of range: %w", g, errdefs.ErrInvalidArgument)
			}
			add(uint32(g))
		}
		return nil
	}
}

// runtimeSpec is the OCI spec as stored in containerd.
type runtimeSpec = specs.Spec
