package nri

import (
	"fmt"
	"slices"
	"strings"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
)

// specEditor lets NRI's spec generator (nri/pkg/runtime-tools/generate)
// edit an OCI spec in place. It implements the generator's
// UnderlyingGenerator directly on the spec, as containerd does, rather than
// pulling in runtime-tools, whose last release predates the runtime-spec
// Berth builds.
type specEditor struct{ spec *rspec.Spec }

func (g *specEditor) Spec() *rspec.Spec { return g.spec }

func (g *specEditor) process() *rspec.Process {
	if g.spec.Process == nil {
		g.spec.Process = &rspec.Process{}
	}
	return g.spec.Process
}

func (g *specEditor) linux() *rspec.Linux {
	if g.spec.Linux == nil {
		g.spec.Linux = &rspec.Linux{}
	}
	return g.spec.Linux
}

func (g *specEditor) resources() *rspec.LinuxResources {
	l := g.linux()
	if l.Resources == nil {
		l.Resources = &rspec.LinuxResources{}
	}
	return l.Resources
}

func (g *specEditor) cpu() *rspec.LinuxCPU {
	r := g.resources()
	if r.CPU == nil {
		r.CPU = &rspec.LinuxCPU{}
	}
	return r.CPU
}

func (g *specEditor) memory() *rspec.LinuxMemory {
	r := g.resources()
	if r.Memory == nil {
		r.Memory = &rspec.LinuxMemory{}
	}
	return r.Memory
}

func (g *specEditor) hooks() *rspec.Hooks {
	if g.spec.Hooks == nil {
		g.spec.Hooks = &rspec.Hooks{}
	}
	return g.spec.Hooks
}

func (g *specEditor) AddAnnotation(key, value string) {
	if g.spec.Annotations == nil {
		g.spec.Annotations = map[string]string{}
	}
	g.spec.Annotations[key] = value
}

func (g *specEditor) RemoveAnnotation(key string) { delete(g.spec.Annotations, key) }

// AddDevice adds a device node, replacing one at the same path.
func (g *specEditor) AddDevice(device rspec.LinuxDevice) {
	l := g.linux()
	for i := range l.Devices {
		if l.Devices[i].Path == device.Path {
			l.Devices[i] = device
			return
		}
	}
	l.Devices = append(l.Devices, device)
}

func (g *specEditor) RemoveDevice(path string) {
	if g.spec.Linux == nil {
		return
	}
	g.spec.Linux.Devices = slices.DeleteFunc(g.spec.Linux.Devices, func(d rspec.LinuxDevice) bool { return d.Path == path })
}

func (g *specEditor) AddOrReplaceLinuxNamespace(ns string, path string) error {
	t, err := namespaceType(ns)
	if err != nil {
		return err
	}
	l := g.linux()
	for i := range l.Namespaces {
		if l.Namespaces[i].Type == t {
			l.Namespaces[i].Path = path
			return nil
		}
	}
	l.Namespaces = append(l.Namespaces, rspec.LinuxNamespace{Type: t, Path: path})
	return nil
}

func (g *specEditor) RemoveLinuxNamespace(ns string) error {
	t, err := namespaceType(ns)
	if err != nil {
		return err
	}
	if g.spec.Linux != nil {
		g.spec.Linux.Namespaces = slices.DeleteFunc(g.spec.Linux.Namespaces, func(n rspec.LinuxNamespace) bool { return n.Type == t })
	}
	return nil
}

// namespaceType accepts both the OCI names and the short ones runtime-tools
// takes ("net" for "network").
func namespaceType(ns string) (rspec.LinuxNamespaceType, error) {
	switch ns {
	case "network", "net":
		return rspec.NetworkNamespace, nil
	case "pid":
		return rspec.PIDNamespace, nil
	case "mount", "mnt":
		return rspec.MountNamespace, nil
	case "ipc":
		return rspec.IPCNamespace, nil
	case "uts":
		return rspec.UTSNamespace, nil
	case "user":
		return rspec.UserNamespace, nil
	case "cgroup":
		return rspec.CgroupNamespace, nil
	case "time":
		return rspec.TimeNamespace, nil
	}
	return "", fmt.Errorf("unknown namespace type %q", ns)
}

func (g *specEditor) AddPreStartHook(h rspec.Hook) {
	//nolint:staticcheck // prestart is deprecated, but NRI plugins may still ask for it
	g.hooks().Prestart = append(g.hooks().Prestart, h)
}

func (g *specEditor) AddPostStartHook(h rspec.Hook) {
	g.hooks().Poststart = append(g.hooks().Poststart, h)
}

func (g *specEditor) AddPostStopHook(h rspec.Hook) {
	g.hooks().Poststop = append(g.hooks().Poststop, h)
}

// AddProcessEnv sets name, replacing an earlier value.
func (g *specEditor) AddProcessEnv(name, value string) {
	p := g.process()
	kv := name + "=" + value
	for i, e := range p.Env {
		if k, _, _ := strings.Cut(e, "="); k == name {
			p.Env[i] = kv
			return
		}
	}
	p.Env = append(p.Env, kv)
}

func (g *specEditor) ClearProcessEnv() {
	if g.spec.Process != nil {
		g.spec.Process.Env = nil
	}
}

func (g *specEditor) SetProcessArgs(args []string) { g.process().Args = args }

func (g *specEditor) SetProcessOOMScoreAdj(adj int) { g.process().OOMScoreAdj = &adj }

func (g *specEditor) AddLinuxResourcesDevice(allow bool, devType string, major, minor *int64, access string) {
	r := g.resources()
	r.Devices = append(r.Devices, rspec.LinuxDeviceCgroup{Allow: allow, Type: devType, Major: major, Minor: minor, Access: access})
}

// AddLinuxResourcesHugepageLimit sets the limit of one page size,
// replacing an earlier one.
func (g *specEditor) AddLinuxResourcesHugepageLimit(pageSize string, limit uint64) {
	r := g.resources()
	for i := range r.HugepageLimits {
		if r.HugepageLimits[i].Pagesize == pageSize {
			r.HugepageLimits[i].Limit = limit
			return
		}
	}
	r.HugepageLimits = append(r.HugepageLimits, rspec.LinuxHugepageLimit{Pagesize: pageSize, Limit: limit})
}

func (g *specEditor) AddLinuxResourcesUnified(key, val string) {
	r := g.resources()
	if r.Unified == nil {
		r.Unified = map[string]string{}
	}
	r.Unified[key] = val
}

// AddMount adds a mount; the generator removes one at the same
// destination first when it replaces it.
func (g *specEditor) AddMount(m rspec.Mount) { g.spec.Mounts = append(g.spec.Mounts, m) }

func (g *specEditor) RemoveMount(dest string) {
	g.spec.Mounts = slices.DeleteFunc(g.spec.Mounts, func(m rspec.Mount) bool { return m.Destination == dest })
}

func (g *specEditor) ClearMounts() { g.spec.Mounts = nil }

func (g *specEditor) Mounts() []rspec.Mount { return g.spec.Mounts }

func (g *specEditor) AddLinuxSysctl(key, value string) {
	l := g.linux()
	if l.Sysctl == nil {
		l.Sysctl = map[string]string{}
	}
	l.Sysctl[key] = value
}

func (g *specEditor) RemoveLinuxSysctl(key string) {
	if g.spec.Linux != nil {
		delete(g.spec.Linux.Sysctl, key)
	}
}

func (g *specEditor) SetLinuxCgroupsPath(path string) { g.linux().CgroupsPath = path }

func (g *specEditor) SetLinuxRootPropagation(rp string) error {
	switch rp {
	case "", "private", "rprivate", "slave", "rslave", "shared", "rshared", "unbindable", "runbindable":
	default:
		return fmt.Errorf("rootfs propagation %q is not valid", rp)
	}
	g.linux().RootfsPropagation = rp
	return nil
}

func (g *specEditor) SetLinuxResourcesCPUCpus(cpus string)        { g.cpu().Cpus = cpus }
func (g *specEditor) SetLinuxResourcesCPUMems(mems string)        { g.cpu().Mems = mems }
func (g *specEditor) SetLinuxResourcesCPUPeriod(period uint64)    { g.cpu().Period = &period }
func (g *specEditor) SetLinuxResourcesCPUQuota(quota int64)       { g.cpu().Quota = &quota }
func (g *specEditor) SetLinuxResourcesCPUShares(shares uint64)    { g.cpu().Shares = &shares }
func (g *specEditor) SetLinuxResourcesCPURealtimeRuntime(t int64) { g.cpu().RealtimeRuntime = &t }
func (g *specEditor) SetLinuxResourcesCPURealtimePeriod(p uint64) { g.cpu().RealtimePeriod = &p }
func (g *specEditor) SetLinuxResourcesMemoryLimit(limit int64)    { g.memory().Limit = &limit }
func (g *specEditor) SetLinuxResourcesMemorySwap(swap int64)      { g.memory().Swap = &swap }
