package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// listPerPod is how many containers each pod of the list phase runs.
const listPerPod = 10

// listCall is one List call of the phase, as kubelet makes it, and the
// number of items a correct answer has (for the stats Lists: items that
// have CPU and memory figures).
type listCall struct {
	name  string
	calls int
	want  int
	// spaced: a call on a runtime starts statsSpacing after its last returned.
	spaced bool
	op     func(ctx context.Context, rt *runtimeEndpoint, f *fleet) (int, error)
}

// statsSpacing is longer than Berth serves a cgroup sample (a second,
// runtime/stats): each timed stats call measures afresh. A writable layer's
// size both runtimes keep for longer (containerd refreshes its snapshots'
// usage in the background), so no call here measures that.
const statsSpacing = 1100 * time.Millisecond

// listPhase brings every runtime to containers running sleeper containers
// (listPerPod a pod), then times the List calls a kubelet makes on a busy
// node, alternating runtimes call by call, and tears the pods down. Each
// call's answer is checked once before timing: a List that is fast because
// it is wrong would mean nothing.
func (b *bench) listPhase(ctx context.Context, rts []*runtimeEndpoint, containers, calls int) (retErr error) {
	pods := (containers + listPerPod - 1) / listPerPod
	fleets := make([]*fleet, len(rts))
	defer func() {
		cctx, cancel := cleanupContext()
		defer cancel()
		for _, f := range fleets {
			if f != nil {
				retErr = errors.Join(retErr, f.remove(cctx))
			}
		}
	}()
	for i, rt := range rts {
		start := time.Now()
		f, err := b.startFleet(ctx, rt, pods, listPerPod)
		fleets[i] = f
		if err != nil {
			return fmt.Errorf("%s: starting %d pods of %d containers: %w", rt.name, pods, listPerPod, err)
		}
		fmt.Printf("berth-bench: %s runs %d pods with %d containers (%.0f s)\n", rt.name, len(f.pods), f.containers(), time.Since(start).Seconds())
	}
	n := fleets[0].containers()
	// Stats calls read every container's cgroup: fewer of them.
	statsCalls := max(1, calls/5)
	byPodUID := func(f *fleet) *runtimeapi.ContainerFilter {
		return &runtimeapi.ContainerFilter{LabelSelector: map[string]string{labelPodUID: f.pods[len(f.pods)/2].uid}}
	}
	ops := []listCall{
		{fmt.Sprintf("ListContainers (%d)", n), calls, n, false, func(ctx context.Context, rt *runtimeEndpoint, f *fleet) (int, error) {
			r, err := rt.runtime.ListContainers(ctx, &runtimeapi.ListContainersRequest{})
			return len(r.GetContainers()), err
		}},
		{fmt.Sprintf("ListContainers (%d) running", n), calls, n, false, func(ctx context.Context, rt *runtimeEndpoint, f *fleet) (int, error) {
			r, err := rt.runtime.ListContainers(ctx, &runtimeapi.ListContainersRequest{Filter: &runtimeapi.ContainerFilter{
				State: &runtimeapi.ContainerStateValue{State: runtimeapi.ContainerState_CONTAINER_RUNNING},
			}})
			return len(r.GetContainers()), err
		}},
		{fmt.Sprintf("ListContainers (%d) pod label", n), calls, listPerPod, false, func(ctx context.Context, rt *runtimeEndpoint, f *fleet) (int, error) {
			r, err := rt.runtime.ListContainers(ctx, &runtimeapi.ListContainersRequest{Filter: byPodUID(f)})
			return len(r.GetContainers()), err
		}},
		{fmt.Sprintf("ListPodSandbox (%d)", pods), calls, pods, false, func(ctx context.Context, rt *runtimeEndpoint, f *fleet) (int, error) {
			r, err := rt.runtime.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{})
			return len(r.GetItems()), err
		}},
		{fmt.Sprintf("ListPodSandbox (%d) pod label", pods), calls, 1, false, func(ctx context.Context, rt *runtimeEndpoint, f *fleet) (int, error) {
			r, err := rt.runtime.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{Filter: &runtimeapi.PodSandboxFilter{
				LabelSelector: byPodUID(f).GetLabelSelector(),
			}})
			return len(r.GetItems()), err
		}},
		{fmt.Sprintf("ListContainerStats (%d)", n), statsCalls, n, true, func(ctx context.Context, rt *runtimeEndpoint, f *fleet) (int, error) {
			r, err := rt.runtime.ListContainerStats(ctx, &runtimeapi.ListContainerStatsRequest{})
			n := 0
			for _, s := range r.GetStats() {
				if s.GetCpu() != nil && s.GetMemory() != nil {
					n++
				}
			}
			return n, err
		}},
		{fmt.Sprintf("ListPodSandboxStats (%d)", pods), statsCalls, pods, true, func(ctx context.Context, rt *runtimeEndpoint, f *fleet) (int, error) {
			r, err := rt.runtime.ListPodSandboxStats(ctx, &runtimeapi.ListPodSandboxStatsRequest{})
			n := 0
			for _, s := range r.GetStats() {
				if s.GetLinux().GetCpu() != nil && s.GetLinux().GetMemory() != nil {
					n++
				}
			}
			return n, err
		}},
	}
	last := make([]time.Time, len(rts)) // when each runtime's last call returned
	for _, op := range ops {
		for i, rt := range rts {
			got, err := op.op(ctx, rt, fleets[i])
			last[i] = time.Now()
			if err != nil {
				return fmt.Errorf("%s: %s: %w", rt.name, op.name, err)
			}
			if got != op.want {
				return fmt.Errorf("%s: %s returned %d items, want %d", rt.name, op.name, got, op.want)
			}
		}
		for c := 0; c < op.calls; c++ {
			for j := range rts {
				i := (c + j) % len(rts) // alternate who goes first
				if wait := statsSpacing - time.Since(last[i]); op.spaced && wait > 0 {
					time.Sleep(wait)
				}
				err := timed(rts[i], true, op.name, func() error {
					_, err := op.op(ctx, rts[i], fleets[i])
					return err
				})
				last[i] = time.Now()
				if err != nil {
					return fmt.Errorf("%s: %w", rts[i].name, err)
				}
			}
		}
	}
	return nil
}
