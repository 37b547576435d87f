package nri

import (
	"context"
	"maps"
	"os"

	"github.com/containerd/nri/pkg/api"

	"github.com/berth-cri/berth/sandbox"
)

// RunPodSandbox tells plugins of a sandbox whose network and pause are
// ready. A plugin's error fails the Run: the plugins told before it are
// then told the sandbox stopped and went. The caller holds BlockSync.
func (a *API) RunPodSandbox(ctx context.Context, sb *sandbox.Sandbox) error {
	if !a.synced.Load() {
		return nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	pod := podSandbox(sb)
	err := a.nri.RunPodSandbox(ctx, &api.RunPodSandboxRequest{Pod: pod})
	a.setState(sb.ID, running)
	if err != nil {
		a.stopPod(ctx, pod)
		a.removePod(ctx, pod)
	}
	return err
}

// StopPodSandbox tells plugins a sandbox is stopping, once: its containers
// stopped, its network and pause still there.
func (a *API) StopPodSandbox(ctx context.Context, sb *sandbox.Sandbox) {
	defer a.BlockSync()()
	if !a.synced.Load() {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.stopPod(ctx, podSandbox(sb))
}

// RemovePodSandbox tells plugins a sandbox is gone (stopped first, if
// they were not told).
func (a *API) RemovePodSandbox(ctx context.Context, sb *sandbox.Sandbox) {
	defer a.BlockSync()()
	if !a.synced.Load() {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	pod := podSandbox(sb)
	a.stopPod(ctx, pod)
	a.removePod(ctx, pod)
}

// stopPod and removePod tell plugins once; a.mu held. Their errors are
// the plugins' to deal with: the sandbox stops and goes regardless.
func (a *API) stopPod(ctx context.Context, pod *api.PodSandbox) {
	if !a.needsStop(pod.Id) {
		return
	}
	a.setState(pod.Id, stopped)
	if err := a.nri.StopPodSandbox(ctx, &api.StopPodSandboxRequest{Pod: pod}); err != nil {
		a.log.Warn("an NRI plugin failed StopPodSandbox", "sandbox", pod.Id, "error", err)
	}
}

func (a *API) removePod(ctx context.Context, pod *api.PodSandbox) {
	if !a.needsRemove(pod.Id) {
		return
	}
	a.setState(pod.Id, 0)
	if err := a.nri.RemovePodSandbox(ctx, &api.RemovePodSandboxRequest{Pod: pod}); err != nil {
		a.log.Warn("an NRI plugin failed RemovePodSandbox", "sandbox", pod.Id, "error", err)
	}
}

// podSandbox is sb as NRI shows it to plugins.
func podSandbox(sb *sandbox.Sandbox) *api.PodSandbox {
	cfg := sb.Config
	st := sb.Status()
	pod := &api.PodSandbox{
		Id:             sb.ID,
		Name:           cfg.GetMetadata().GetName(),
		Uid:            cfg.GetMetadata().GetUid(),
		Namespace:      cfg.GetMetadata().GetNamespace(),
		Labels:         maps.Clone(cfg.GetLabels()),
		Annotations:    maps.Clone(cfg.GetAnnotations()),
		RuntimeHandler: sb.RuntimeHandler,
		Pid:            st.Pid,
		Linux: &api.LinuxPodSandbox{
			PodOverhead:  fromCRIResources(cfg.GetLinux().GetOverhead()),
			PodResources: fromCRIResources(cfg.GetLinux().GetResources()),
			CgroupParent: cfg.GetLinux().GetCgroupParent(),
			CgroupsPath:  sb.PauseCgroupsPath(),
		},
	}
	for _, ip := range st.IPs {
		pod.Ips = append(pod.Ips, ip.String())
	}
	// The pinned namespaces, while they exist: Stop removes them.
	for _, ns := range []struct{ typ, path string }{{"network", sb.NetNSPath}, {"ipc", sb.IPCNSPath}, {"uts", sb.UTSNSPath}} {
		if ns.path == "" {
			continue
		}
		if _, err := os.Stat(ns.path); err == nil {
			pod.Linux.Namespaces = append(pod.Linux.Namespaces, &api.LinuxNamespace{Type: ns.typ, Path: ns.path})
		}
	}
	return pod
}
