package nri

import (
	"maps"

	"github.com/containerd/nri/pkg/api"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// fromCRIResources is r in NRI's terms; nil stays nil.
func fromCRIResources(r *runtimeapi.LinuxContainerResources) *api.LinuxResources {
	if r == nil {
		return nil
	}
	shares, period := uint64(r.CpuShares), uint64(r.CpuPeriod)
	out := &api.LinuxResources{
		Cpu: &api.LinuxCPU{
			Shares: api.UInt64(&shares),
			Quota:  api.Int64(&r.CpuQuota),
			Period: api.UInt64(&period),
			Cpus:   r.CpusetCpus,
			Mems:   r.CpusetMems,
		},
		Memory: &api.LinuxMemory{Limit: api.Int64(&r.MemoryLimitInBytes)},
	}
	if r.MemorySwapLimitInBytes != 0 {
		out.Memory.Swap = api.Int64(&r.MemorySwapLimitInBytes)
	}
	for _, l := range r.HugepageLimits {
		out.HugepageLimits = append(out.HugepageLimits, &api.HugepageLimit{PageSize: l.PageSize, Limit: l.Limit})
	}
	if len(r.Unified) > 0 {
		out.Unified = maps.Clone(r.Unified)
	}
	return out
}

// toCRIResources is r in CRI's terms, where zero means "keep": what a
// plugin leaves unset is left as it is.
func toCRIResources(r *api.LinuxResources) *runtimeapi.LinuxContainerResources {
	if r == nil {
		return nil
	}
	out := &runtimeapi.LinuxContainerResources{}
	if c := r.Cpu; c != nil {
		out.CpuShares = int64(c.GetShares().GetValue())
		out.CpuQuota = c.GetQuota().GetValue()
		out.CpuPeriod = int64(c.GetPeriod().GetValue())
		out.CpusetCpus, out.CpusetMems = c.Cpus, c.Mems
	}
	if m := r.Memory; m != nil {
		out.MemoryLimitInBytes = m.GetLimit().GetValue()
		out.MemorySwapLimitInBytes = m.GetSwap().GetValue()
	}
	for _, l := range r.HugepageLimits {
		out.HugepageLimits = append(out.HugepageLimits, &runtimeapi.HugepageLimit{PageSize: l.PageSize, Limit: l.Limit})
	}
	if len(r.Unified) > 0 {
		out.Unified = maps.Clone(r.Unified)
	}
	return out
}
