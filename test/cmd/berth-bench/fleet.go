package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sync"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// The labels kubelet puts on pods and containers (k8s.io/kubelet/pkg/types).
const (
	labelPodUID        = "io.kubernetes.pod.uid"
	labelPodName       = "io.kubernetes.pod.name"
	labelPodNamespace  = "io.kubernetes.pod.namespace"
	labelContainerName = "io.kubernetes.container.name"
)

// fleetWorkers is how many pods a fleet creates or removes at once: enough
// to overlap the waits on shims and CNI plugins, few enough that two cores
// are not buried.
const fleetWorkers = 4

// fleetPod is one pod of a fleet and its running containers.
type fleetPod struct {
	id, uid    string
	containers []string
}

// fleet is a set of pods, each with running sleeper containers, kept on one
// runtime while a phase measures it.
type fleet struct {
	rt   *runtimeEndpoint
	mu   sync.Mutex
	pods []fleetPod
}

// startFleet runs pods pods on rt, each with perPod started sleeper
// containers. On error, what was started is still in the fleet for remove.
func (b *bench) startFleet(ctx context.Context, rt *runtimeEndpoint, pods, perPod int) (*fleet, error) {
	f := &fleet{rt: rt}
	err := forEach(pods, func(int) error {
		cfg := b.podConfig()
		// As kubelet does: containerd's pod stats read this cgroup.
		cfg.Linux.CgroupParent = path.Join(cgroupRoot(), "pod-"+cfg.GetMetadata().GetUid())
		r, err := rt.runtime.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: cfg, RuntimeHandler: b.handler})
		if err != nil {
			return fmt.Errorf("RunPodSandbox: %w", err)
		}
		p := fleetPod{id: r.GetPodSandboxId(), uid: cfg.GetMetadata().GetUid()}
		defer func() {
			f.mu.Lock()
			f.pods = append(f.pods, p)
			f.mu.Unlock()
		}()
		for c := 0; c < perPod; c++ {
			cr, err := rt.runtime.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{
				PodSandboxId: p.id, SandboxConfig: cfg, Config: b.sleeper(cfg, fmt.Sprintf("sleeper-%d", c)),
			})
			if err != nil {
				return fmt.Errorf("CreateContainer: %w", err)
			}
			p.containers = append(p.containers, cr.GetContainerId())
			if _, err := rt.runtime.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: cr.GetContainerId()}); err != nil {
				return fmt.Errorf("StartContainer: %w", err)
			}
		}
		return nil
	})
	return f, err
}

// containers counts the fleet's containers.
func (f *fleet) containers() int {
	n := 0
	for _, p := range f.pods {
		n += len(p.containers)
	}
	return n
}

// remove stops and removes every pod of the fleet (and so its containers),
// then the pods' cgroups, which nobody else removes (kubelet would).
func (f *fleet) remove(ctx context.Context) error {
	defer removeCgroups()
	return forEach(len(f.pods), func(i int) error {
		id := f.pods[i].id
		if _, err := f.rt.runtime.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: id}); err != nil {
			return fmt.Errorf("StopPodSandbox %s: %w", id, err)
		}
		if _, err := f.rt.runtime.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: id}); err != nil {
			return fmt.Errorf("RemovePodSandbox %s: %w", id, err)
		}
		return nil
	})
}

// forEach calls fn(0..n-1), fleetWorkers at a time, and returns every error.
func forEach(n int, fn func(i int) error) error {
	next := make(chan int)
	go func() {
		for i := 0; i < n; i++ {
			next <- i
		}
		close(next)
	}()
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for w := 0; w < min(fleetWorkers, n); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := fn(i); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// cgroupRoot is the cgroup (cgroupfs driver) every fleet pod of this
// process has its own cgroup under.
func cgroupRoot() string { return fmt.Sprintf("/berth-bench-%d", os.Getpid()) }

// removeCgroups removes the cgroups under cgroupRoot that no longer hold a
// process, in every hierarchy, deepest first: a pod's, and what a runtime
// left in it (a container cut short by an interrupt). rmdir refuses busy
// ones; they stay for the next call.
func removeCgroups() {
	roots, _ := filepath.Glob(filepath.Join("/sys/fs/cgroup", "*", cgroupRoot()))
	for _, root := range roots {
		var dirs []string
		_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error { // the callback fails nothing
			if err == nil && d.IsDir() {
				dirs = append(dirs, p)
			}
			return nil
		})
		for i := len(dirs) - 1; i >= 0; i-- { // children come after their parent
			os.Remove(dirs[i])
		}
	}
}

// cleanupContext is for tearing fleets down after a failure: the run's own
// context may be what failed.
func cleanupContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 5*time.Minute)
}
