package container

import (
	"context"
	"fmt"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/containers"
	"github.com/containerd/errdefs"
	"github.com/containerd/typeurl/v2"
	"google.golang.org/protobuf/proto"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// UpdateResources changes a container's CPU, memory and hugepage limits:
// in its spec, so they hold for the rest of its life, and in its cgroup
// when it runs. Fields left zero keep their value. NRI plugins see the
// update first and may change it.
func (m *Manager) UpdateResources(ctx context.Context, id string, r *runtimeapi.LinuxContainerResources) error {
	return m.updateResources(ctx, id, r, m.cfg.NRI)
}

// UpdateResourcesForNRI applies an update an NRI plugin asked for, without
// relaying it back to the plugins.
func (m *Manager) UpdateResourcesForNRI(ctx context.Context, id string, r *runtimeapi.LinuxContainerResources) error {
	return m.updateResources(ctx, id, r, nil)
}

func (m *Manager) updateResources(ctx context.Context, id string, r *runtimeapi.LinuxContainerResources, hooks NRI) error {
	if r == nil {
		return nil
	}
	c, err := m.store.Get(id)
	if err != nil {
		return err
	}
	st := c.Status()
	if st.State == runtimeapi.ContainerState_CONTAINER_EXITED {
		return fmt.Errorf("container %s has exited: %w", c.ID, errdefs.ErrFailedPrecondition)
	}
	merged := mergeResources(st.Resources, r)
	if hooks != nil {
		adjusted, err := hooks.UpdateContainer(ctx, c, merged)
		if err != nil {
			return fmt.Errorf("NRI plugin refused the update of container %s: %w", c.ID, err)
		}
		if adjusted != nil {
			merged = mergeResources(merged, adjusted)
		}
	}
	host := m.cfg.Node
	res := linuxResources(merged, host)

	cont, err := m.cfg.Client.LoadContainer(ctx, c.ID)
	if err != nil {
		return fmt.Errorf("load container: %w", err)
	}
	if err := cont.Update(ctx, func(ctx context.Context, _ *containerd.Client, rec *containers.Container) error {
		var spec runtimeSpec
		if err := typeurl.UnmarshalTo(rec.Spec, &spec); err != nil {
			return err
		}
		if spec.Linux.Resources == nil {
			spec.Linux.Resources = res
		} else {
			spec.Linux.Resources.CPU, spec.Linux.Resources.Memory = res.CPU, res.Memory
			spec.Linux.Resources.HugepageLimits, spec.Linux.Resources.Unified = res.HugepageLimits, res.Unified
		}
		specAny, err := typeurl.MarshalAny(&spec)
		if err != nil {
			return err
		}
		rec.Spec = specAny
		return nil
	}); err != nil {
		return fmt.Errorf("update container spec: %w", err)
	}
	c.exec.Store(nil) // the next exec reads the spec as updated
	if st.State == runtimeapi.ContainerState_CONTAINER_RUNNING {
		task, err := cont.Task(ctx, nil)
		if err != nil && !errdefs.IsNotFound(err) {
			return fmt.Errorf("load task: %w", err)
		}
		if err == nil {
			if err := task.Update(ctx, containerd.WithResources(res)); err != nil && !errdefs.IsNotFound(err) {
				return fmt.Errorf("update cgroup: %w", err)
			}
		}
	}
	if err := c.Update(func(s Status) (Status, error) { s.Resources = merged; return s, nil }); err != nil {
		return err
	}
	if hooks != nil {
		hooks.PostUpdateContainer(ctx, c)
	}
	return nil
}

// mergeResources lays the set fields of upd over old.
func mergeResources(old, upd *runtimeapi.LinuxContainerResources) *runtimeapi.LinuxContainerResources {
	out := &runtimeapi.LinuxContainerResources{}
	if old != nil {
		out = proto.Clone(old).(*runtimeapi.LinuxContainerResources)
	}
	if upd.CpuPeriod != 0 {
		out.CpuPeriod = upd.CpuPeriod
	}
	if upd.CpuQuota != 0 {
		out.CpuQuota = upd.CpuQuota
	}
	if upd.CpuShares != 0 {
		out.CpuShares = upd.CpuShares
	}
	if upd.MemoryLimitInBytes != 0 {
		out.MemoryLimitInBytes = upd.MemoryLimitInBytes
	}
	if upd.MemorySwapLimitInBytes != 0 {
		out.MemorySwapLimitInBytes = upd.MemorySwapLimitInBytes
	}
	if upd.OomScoreAdj != 0 {
		out.OomScoreAdj = upd.OomScoreAdj
	}
	if upd.CpusetCpus != "" {
		out.CpusetCpus = upd.CpusetCpus
	}
	if upd.CpusetMems != "" {
		out.CpusetMems = upd.CpusetMems
	}
	if len(upd.HugepageLimits) > 0 {
		out.HugepageLimits = upd.HugepageLimits
	}
	if len(upd.Unified) > 0 {
		out.Unified = upd.Unified
	}
	return out
}

// ReopenLog reopens a running container's log file, after kubelet renamed
// it to rotate it.
func (m *Manager) ReopenLog(ctx context.Context, id string) error {
	c, err := m.store.Get(id)
	if err != nil {
		return err
	}
	if st := c.Status(); st.State != runtimeapi.ContainerState_CONTAINER_RUNNING {
		return fmt.Errorf("container %s is not running: %w", c.ID, errdefs.ErrFailedPrecondition)
	}
	logs := c.logFile()
	if logs == nil {
		if c.LogPath == "" {
			return fmt.Errorf("container %s has no log file: %w", c.ID, errdefs.ErrFailedPrecondition)
		}
		return fmt.Errorf("container %s is not running: %w", c.ID, errdefs.ErrFailedPrecondition)
	}
	return logs.Reopen()
}
