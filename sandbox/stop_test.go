package sandbox

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// kubelet stops and removes sandboxes that may be gone already.
func TestStopAndRemoveOfAnUnknownSandboxSucceed(t *testing.T) {
	e := newEnv(t)
	if err := e.m.Stop(reqCtx(t), "0123456789abcdef"); err != nil {
		t.Errorf("Stop of an unknown sandbox: %v", err)
	}
	if err := e.m.Remove(reqCtx(t), "0123456789abcdef"); err != nil {
		t.Errorf("Remove of an unknown sandbox: %v", err)
	}
	if ev := e.j.snapshot(); len(ev) > 0 {
		t.Errorf("Stop and Remove of an unknown sandbox did:\n  %s", join(ev))
	}
}

// A second StopPodSandbox succeeds and does nothing more: one CNI DEL.
// After the first, the sandbox is NOTREADY and takes no containers, its
// pause is gone, and its IP, hostPort and namespace are free.
func TestStopTwice(t *testing.T) {
	for _, pod := range []func(string) *runtimeapi.PodSandboxConfig{pausePod, infralessPod} {
		t.Run(pod("x").Linux.SecurityContext.NamespaceOptions.Pid.String(), func(t *testing.T) {
			e := newEnv(t)
			id := e.run(pod("web"))
			for i := range 2 {
				if err := e.m.Stop(reqCtx(t), id); err != nil {
					t.Fatalf("Stop %d: %v", i+1, err)
				}
			}
			sb := e.sandbox(id)
			if st := sb.Status(); st.State != runtimeapi.PodSandboxState_SANDBOX_NOTREADY || st.Pid != 0 || st.Problem != "" {
				t.Errorf("stopped sandbox: %s, pid %d, problem %q", st.State, st.Pid, st.Problem)
			}
			if sb.TakesContainers() {
				t.Error("a stopped sandbox takes containers")
			}
			if n := e.j.count("cni.del", id); n != 1 {
				t.Errorf("%d CNI DELs for two Stops, want 1", n)
			}
			if err := e.m.WaitCleanups(reqCtx(t)); err != nil {
				t.Fatal(err)
			}
			if e.cd.task(id) != nil {
				t.Error("the pause task is left after Stop")
			}
			if e.node.isPinned(sb.NetNSPath) {
				t.Error("the network namespace is pinned after Stop")
			}
			if _, ok := e.net.ip(id); ok {
				t.Error("the pod's IP is still attached after Stop")
			}
			// The hostPort is free for another pod.
			other := pod("other")
			other.PortMappings = pod("web").PortMappings
			otherID := e.run(other)
			for _, id := range []string{id, otherID} {
				if err := e.m.Remove(reqCtx(t), id); err != nil {
					t.Fatal(err)
				}
			}
			e.assertNothingLeft()
		})
	}
}

// While CNI DEL fails, Stop fails, says so, and keeps the network
// namespace and the hostPort: a retried DEL needs the one, and the other
// is still DNATed to the pod. The next Stop finishes the job.
func TestStopKeepsTheNetworkUntilCNIDelSucceeds(t *testing.T) {
	e := newEnv(t)
	pod := pausePod("web")
	id := e.run(pod)
	e.j.failStep("cni.del", errInjected)
	if err := e.m.Stop(reqCtx(t), id); err == nil {
		t.Fatal("Stop succeeded while CNI DEL failed")
	}
	sb := e.sandbox(id)
	if st := sb.Status(); st.State != runtimeapi.PodSandboxState_SANDBOX_NOTREADY || st.Problem == "" {
		t.Errorf("sandbox: %s, problem %q; want NOTREADY and why", st.State, st.Problem)
	}
	if err := e.m.WaitCleanups(reqCtx(t)); err != nil {
		t.Fatal(err)
	}
	if !e.node.isPinned(sb.NetNSPath) {
		t.Error("the network namespace was unpinned before CNI DEL succeeded")
	}
	if len(e.ports.table.Held(id)) == 0 {
		t.Error("the hostPort was released before CNI DEL succeeded")
	}
	e.j.heal()
	if err := e.m.Stop(reqCtx(t), id); err != nil {
		t.Fatalf("Stop once CNI works: %v", err)
	}
	if st := sb.Status(); st.Problem != "" {
		t.Errorf("problem still reported after a Stop that succeeded: %q", st.Problem)
	}
	if err := e.m.Remove(reqCtx(t), id); err != nil {
		t.Fatal(err)
	}
	e.assertNothingLeft()
}

// A pause that dies on its own makes its sandbox NOTREADY (kubelet then
// makes a new one), and its task is deleted, which ends the pod's shim.
// The network stays for kubelet's StopPodSandbox.
func TestPauseExitMakesTheSandboxNotReady(t *testing.T) {
	e := newEnv(t)
	id := e.run(pausePod("web"))
	sb := e.sandbox(id)
	e.cd.task(id).exit(2)
	waitFor(t, "the sandbox to be NOTREADY", func() bool {
		return sb.Status().State == runtimeapi.PodSandboxState_SANDBOX_NOTREADY
	})
	if sb.TakesContainers() || sb.Status().Pid != 0 {
		t.Errorf("a sandbox whose pause died takes containers (pid %d)", sb.Status().Pid)
	}
	if err := e.m.WaitCleanups(reqCtx(t)); err != nil {
		t.Fatal(err)
	}
	if e.cd.task(id) != nil {
		t.Error("the exited pause's task was not deleted")
	}
	if _, ok := e.net.ip(id); !ok {
		t.Error("the network went before kubelet's StopPodSandbox")
	}
	if err := e.m.Stop(reqCtx(t), id); err != nil {
		t.Fatal(err)
	}
	if err := e.m.Remove(reqCtx(t), id); err != nil {
		t.Fatal(err)
	}
	e.assertNothingLeft()
}

// kubelet may Stop, Remove and retry Run of one pod at once (a retry
// after a timeout, the pod deleted meanwhile). Every Stop and Remove
// succeeds, every listed sandbox is whole, and removing what is listed
// leaves nothing.
func TestConcurrentRunStopRemoveOfOnePod(t *testing.T) {
	for i := range 20 {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			e := newEnv(t)
			pod := pausePod("web")
			if i%2 == 1 {
				pod = infralessPod("web")
			}
			id := e.run(pod)
			var wg sync.WaitGroup
			errs := make(chan error, 5)
			var rerun string
			wg.Go(func() {
				var err error
				rerun, err = e.m.Run(reqCtx(t), pod, "")
				errs <- err
			})
			for range 2 {
				wg.Go(func() { errs <- e.m.Stop(reqCtx(t), id) })
				wg.Go(func() { errs <- e.m.Remove(reqCtx(t), id) })
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Errorf("concurrent call: %v", err)
				}
			}
			if rerun == "" {
				t.Fatal("the retried Run got no sandbox")
			}
			for _, sb := range e.m.Store().List() {
				if sb.ID == id {
					t.Errorf("sandbox %s is listed after its Remove returned", short(id))
				}
				if sb.Status().State != runtimeapi.PodSandboxState_SANDBOX_READY {
					t.Errorf("sandbox %s is %s", short(sb.ID), sb.Status().State)
				}
				if _, ok := e.net.ip(sb.ID); !ok || !e.node.isPinned(sb.NetNSPath) {
					t.Errorf("listed sandbox %s has lost its network", short(sb.ID))
				}
				if err := e.m.Remove(reqCtx(t), sb.ID); err != nil {
					t.Fatal(err)
				}
			}
			e.assertNothingLeft()
		})
	}
}

// RemovePodSandbox of a running sandbox removes its containers, stops it
// (the pause killed before its container goes, CNI DEL before the
// namespace is unpinned), removes everything, and frees the pod's name:
// the next Run of that pod makes a new sandbox.
func TestRemoveOfARunningSandboxStopsItFirst(t *testing.T) {
	for _, pod := range []func(string) *runtimeapi.PodSandboxConfig{pausePod, infralessPod} {
		t.Run(pod("x").Linux.SecurityContext.NamespaceOptions.Pid.String(), func(t *testing.T) {
			e := newEnv(t)
			id := e.run(pod("web"))
			sb := e.sandbox(id)
			// runc's delete of the pause takes a while.
			time.AfterFunc(50*time.Millisecond, e.j.hold("task.delete"))
			if err := e.m.Remove(reqCtx(t), id); err != nil {
				t.Fatal(err)
			}
			e.assertBefore([2]string{"containers.remove", id}, [2]string{"cni.del", id})
			e.assertBefore([2]string{"cni.del", id}, [2]string{"unpin", sb.NetNSPath})
			if !sb.Infraless {
				e.assertBefore([2]string{"task.kill", id}, [2]string{"container.delete", id})
				e.assertBefore([2]string{"task.delete", id}, [2]string{"container.delete", id})
			}
			if _, err := e.m.Store().Get(id); err == nil {
				t.Error("a removed sandbox is listed")
			}
			e.assertNothingLeft()
			again := e.run(pod("web"))
			if again == id {
				t.Error("Run after Remove returned the removed sandbox")
			}
			if err := e.m.Remove(context.WithoutCancel(reqCtx(t)), again); err != nil {
				t.Fatal(err)
			}
			e.assertNothingLeft()
		})
	}
}
