package sandbox

import (
	"context"
	"errors"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/containerd/errdefs"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/berth-cri/berth/sandbox/netns"
)

// sandboxIDs are the sandbox IDs the journal names, in the order they
// first appear.
func (e *env) sandboxIDs() []string {
	var ids []string
	for _, ev := range e.j.snapshot() {
		for _, id := range idPattern.FindAllString(ev, -1) {
			if !slices.Contains(ids, id) {
				ids = append(ids, id)
			}
		}
	}
	return ids
}

var idPattern = regexp.MustCompile(`[0-9a-f]{64}`)

// A RunPodSandbox that fails at any step leaves the node as it found it:
// no namespace pin, /dev/shm, lease, record, snapshot, task, IP or
// hostPort, no files, nothing listed; the undoing goes in the reverse
// order of the making where one needs the other; and the name is free, so
// kubelet's next attempt gets a sandbox.
func TestRunLeavesNothingWhenAStepFails(t *testing.T) {
	fail := func(step string) func(*env) {
		return func(e *env) { e.j.failStep(step, errInjected) }
	}
	for _, tc := range []struct {
		name      string
		pod       func(string) *runtimeapi.PodSandboxConfig
		breakStep func(*env)
		code      func(error) bool // the error class kubelet sees, where it matters
	}{
		{name: "pod files", pod: pausePod, breakStep: func(e *env) { e.m.cfg.ResolvConf = e.t.TempDir() /* a directory */ }},
		{name: "/dev/shm", pod: pausePod, breakStep: fail("shm.mount")},
		{name: "namespaces", pod: pausePod, breakStep: fail("netns.create")},
		{name: "user namespace pin", pod: usernsPod, breakStep: fail("userns.pin")},
		{name: "loopback", pod: pausePod, breakStep: fail("lo.up")},
		{name: "lease", pod: pausePod, breakStep: fail("lease.create"), code: errdefs.IsUnavailable},
		{name: "infra-less record", pod: infralessPod, breakStep: fail("container.create")},
		{name: "pause image gone", pod: pausePod, breakStep: func(e *env) { e.cd.noImage = true }, code: errdefs.IsFailedPrecondition},
		{name: "pause rootfs", pod: pausePod, breakStep: fail("snapshot.prepare")},
		{name: "pause container", pod: pausePod, breakStep: fail("container.create")},
		{name: "containerd sandbox record", pod: pausePod, breakStep: fail("record.create")},
		{name: "hostPort held by another pod", pod: pausePod, breakStep: func(e *env) {
			other := pausePod("other")
			other.PortMappings = pausePod("web").PortMappings
			e.run(other)
		}, code: errdefs.IsAlreadyExists},
		{name: "CNI ADD", pod: pausePod, breakStep: fail("cni.add")},
		{name: "infra-less CNI ADD", pod: infralessPod, breakStep: fail("cni.add")},
		{name: "recording the pod IPs", pod: pausePod, breakStep: fail("container.update")},
		{name: "pause task create", pod: pausePod, breakStep: fail("task.create")},
		{name: "pause task start", pod: pausePod, breakStep: fail("task.start")},
		{name: "NRI plugin refuses", pod: infralessPod, breakStep: fail("nri.run")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			tc.breakStep(e)
			before := e.left()
			listed := len(e.m.Store().List())
			_, err := e.m.Run(reqCtx(t), tc.pod("web"), "")
			if err == nil {
				t.Fatal("Run succeeded")
			}
			if tc.code != nil && !tc.code(err) {
				t.Errorf("Run: %v, not of the class kubelet should see", err)
			}
			if left := e.left(); !slices.Equal(left, before) {
				t.Errorf("a failed Run left:\n  %s\nwas:\n  %s\njournal:\n  %s", join(left), join(before), join(e.j.snapshot()))
			}
			if n := len(e.m.Store().List()); n != listed {
				t.Errorf("a failed Run left %d sandboxes listed", n-listed)
			}
			if ids := e.sandboxIDs(); len(ids) > 0 {
				failed := ids[len(ids)-1]
				if e.j.index("task.create", failed) >= 0 {
					// containerd refuses to delete a container with a task.
					e.assertBefore([2]string{"task.delete", failed}, [2]string{"container.delete", failed})
					e.assertBefore([2]string{"task.delete", failed}, [2]string{"lease.delete", leasePrefix + failed})
				}
				if e.j.index("cni.add", failed) >= 0 {
					// A DEL needs the namespace; the port goes once DEL released its rules.
					netnsPath := netns.Path(e.m.netnsDir(), failed)
					e.assertBefore([2]string{"cni.del", failed}, [2]string{"unpin", netnsPath})
					e.assertBefore([2]string{"cni.del", failed}, [2]string{"ports.release", failed})
				}
			}

			// kubelet tries again once the cause is gone.
			e.j.heal()
			e.cd.noImage = false
			e.m.cfg.ResolvConf = e.cfg.ResolvConf
			for _, sb := range e.m.Store().List() {
				if err := e.m.Remove(reqCtx(t), sb.ID); err != nil {
					t.Fatal(err)
				}
			}
			id, err := e.m.Run(reqCtx(t), tc.pod("web"), "")
			if err != nil {
				t.Fatalf("Run after the failure: %v", err)
			}
			if st := e.status(id); st.State != runtimeapi.PodSandboxState_SANDBOX_READY {
				t.Errorf("sandbox of the retry is %s", st.State)
			}
			if err := e.m.Remove(reqCtx(t), id); err != nil {
				t.Fatal(err)
			}
			e.assertNothingLeft()
		})
	}
}

// kubelet gives up on a RunPodSandbox after its deadline and calls it
// again with the same config: the retry gets the sandbox the first call
// made (or, if that failed, a new one), never "name is reserved", never
// two pods.
func TestRunRetriedAfterATimeoutGetsOneSandbox(t *testing.T) {
	for _, tc := range []struct {
		name       string
		firstFails bool
		retryLate  bool // after the first Run finished
	}{
		{name: "retry while the first Run still works"},
		{name: "retry after the first Run finished", retryLate: true},
		{name: "first Run fails after the timeout", firstFails: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			pod := pausePod("web")
			release := e.j.hold("cni.add") // a slow CNI plugin
			defer release()
			if tc.firstFails {
				e.j.failOnce("cni.add", errInjected)
			}
			kubeletCtx, cancel := context.WithTimeout(namespaces.WithNamespace(context.Background(), "berth"), 50*time.Millisecond)
			_, err := e.m.Run(kubeletCtx, pod, "")
			cancel()
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("Run past kubelet's deadline: %v, want DeadlineExceeded", err)
			}
			if tc.retryLate {
				release()
				waitFor(t, "the first Run to finish", func() bool { return len(e.m.Store().List()) == 1 })
			}
			type result struct {
				id  string
				err error
			}
			retried := make(chan result, 1)
			go func() {
				id, err := e.m.Run(reqCtx(t), pod, "")
				retried <- result{id, err}
			}()
			if !tc.retryLate {
				select {
				case r := <-retried:
					t.Fatalf("the retry returned (%q, %v) while the first Run was still working", r.id, r.err)
				case <-time.After(50 * time.Millisecond):
				}
				release()
			}
			r := <-retried
			if r.err != nil {
				t.Fatalf("retry: %v", r.err)
			}
			ids := e.sandboxIDs()
			want := 1
			if tc.firstFails {
				want = 2
			}
			if len(ids) != want {
				t.Fatalf("%d sandboxes were made, want %d", len(ids), want)
			}
			if r.id != ids[len(ids)-1] {
				t.Errorf("retry got %s, want the sandbox %s", short(r.id), short(ids[len(ids)-1]))
			}
			listed := e.m.Store().List()
			if len(listed) != 1 || listed[0].ID != r.id || e.status(r.id).State != runtimeapi.PodSandboxState_SANDBOX_READY {
				t.Errorf("listed: %d sandboxes, want %s READY", len(listed), short(r.id))
			}
			if err := e.m.Remove(reqCtx(t), r.id); err != nil {
				t.Fatal(err)
			}
			e.assertNothingLeft()
		})
	}
}

// A Run whose rollback cannot finish (CNI DEL fails too) leaves its
// sandbox listed NOTREADY, saying why, with its network namespace and
// hostPort, rather than forgetting what it holds. kubelet stops it before
// its next attempt, which then gets a new sandbox, and RemovePodSandbox
// of the old one leaves nothing.
func TestRunWhoseRollbackFailsLeavesTheSandboxForRemove(t *testing.T) {
	e := newEnv(t)
	pod := pausePod("web")
	e.j.failStep("cni.add", errInjected)
	e.j.failStep("cni.del", errInjected)
	if _, err := e.m.Run(reqCtx(t), pod, ""); err == nil {
		t.Fatal("Run succeeded")
	}
	listed := e.m.Store().List()
	if len(listed) != 1 {
		t.Fatalf("%d sandboxes listed after a rollback that failed, want the failed one", len(listed))
	}
	failed := listed[0]
	if st := failed.Status(); st.State != runtimeapi.PodSandboxState_SANDBOX_NOTREADY || st.Problem == "" {
		t.Errorf("failed sandbox: %s, problem %q; want NOTREADY with the problem", st.State, st.Problem)
	}
	if !e.node.isPinned(failed.NetNSPath) {
		t.Error("the network namespace was unpinned before CNI DEL succeeded")
	}
	if len(e.ports.table.Held(failed.ID)) == 0 {
		t.Error("the hostPort was released before CNI DEL succeeded")
	}
	e.j.heal()
	if err := e.m.Stop(reqCtx(t), failed.ID); err != nil {
		t.Fatalf("Stop of the failed sandbox: %v", err)
	}
	id := e.run(pod)
	if id == failed.ID {
		t.Error("the next attempt got the sandbox that failed")
	}
	for _, id := range []string{failed.ID, id} {
		if err := e.m.Remove(reqCtx(t), id); err != nil {
			t.Fatalf("Remove %s: %v", short(id), err)
		}
	}
	e.assertNothingLeft()
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
