package sandbox

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/berth-cri/berth/sandbox/netns"
)

// berthd restarts after a crash, or after containerd or the node changed
// under it: Recover lists each sandbox as kubelet should see it (READY,
// so that kubelet keeps the pod; NOTREADY, so that it stops it and makes
// a new one), with its name, IP and hostPort, and kubelet's
// StopPodSandbox and RemovePodSandbox then leave nothing.
func TestRecoverListsEachSandboxAsKubeletShouldSeeIt(t *testing.T) {
	for _, tc := range []struct {
		name string
		pod  func(string) *runtimeapi.PodSandboxConfig
		// before is what happened before the crash, whileDown while berthd
		// was down.
		before, whileDown func(e *env, sb *Sandbox)
		want              runtimeapi.PodSandboxState
	}{
		{name: "pause running", pod: pausePod, want: runtimeapi.PodSandboxState_SANDBOX_READY},
		{name: "pause exited while berthd was down", pod: pausePod, whileDown: func(e *env, sb *Sandbox) {
			e.cd.task(sb.ID).exit(137)
		}, want: runtimeapi.PodSandboxState_SANDBOX_NOTREADY},
		{name: "pause container without its task", pod: pausePod, whileDown: func(e *env, sb *Sandbox) {
			e.cd.mu.Lock()
			delete(e.cd.tasks, sb.ID)
			e.cd.mu.Unlock()
		}, want: runtimeapi.PodSandboxState_SANDBOX_NOTREADY},
		{name: "stopped before the crash", pod: pausePod, before: func(e *env, sb *Sandbox) {
			if err := e.m.Stop(reqCtx(e.t), sb.ID); err != nil {
				e.t.Fatal(err)
			}
			if err := e.m.WaitCleanups(reqCtx(e.t)); err != nil {
				e.t.Fatal(err)
			}
		}, want: runtimeapi.PodSandboxState_SANDBOX_NOTREADY},
		{name: "infra-less running", pod: infralessPod, want: runtimeapi.PodSandboxState_SANDBOX_READY},
		{name: "infra-less records but no ready mark", pod: infralessPod, whileDown: func(e *env, sb *Sandbox) {
			// A crash after the records and CNI ADD, before the commit.
			if err := os.Remove(filepath.Join(e.m.stateDir(sb.ID), readyFile)); err != nil {
				e.t.Fatal(err)
			}
		}, want: runtimeapi.PodSandboxState_SANDBOX_NOTREADY},
		{name: "infra-less ready mark but no network namespace", pod: infralessPod, whileDown: func(e *env, sb *Sandbox) {
			// Its containers could join no network: kubelet must make a new sandbox.
			e.node.unpinned(sb.NetNSPath)
		}, want: runtimeapi.PodSandboxState_SANDBOX_NOTREADY},
		{name: "infra-less ready mark but no UTS namespace", pod: infralessPod, whileDown: func(e *env, sb *Sandbox) {
			e.node.unpinned(sb.UTSNSPath)
		}, want: runtimeapi.PodSandboxState_SANDBOX_NOTREADY},
		{name: "infra-less stopped before the crash", pod: infralessPod, before: func(e *env, sb *Sandbox) {
			if err := e.m.Stop(reqCtx(e.t), sb.ID); err != nil {
				e.t.Fatal(err)
			}
			if err := e.m.WaitCleanups(reqCtx(e.t)); err != nil {
				e.t.Fatal(err)
			}
		}, want: runtimeapi.PodSandboxState_SANDBOX_NOTREADY},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			pod := tc.pod("web")
			id := e.run(pod)
			sb := e.sandbox(id)
			ip, _ := e.net.ip(id)
			if tc.before != nil {
				tc.before(e, sb)
			}
			e.restart(func() {
				if tc.whileDown != nil {
					tc.whileDown(e, sb)
				}
			})
			got := e.status(id)
			if got.State != tc.want {
				t.Fatalf("recovered as %s, want %s", got.State, tc.want)
			}
			if got.NetworkTornDown {
				if _, ok := e.net.ip(id); ok {
					t.Error("a sandbox whose network namespace is gone keeps its IP")
				}
			} else {
				if len(got.IPs) != 1 || got.IPs[0] != ip {
					t.Errorf("recovered IPs %v, want %v", got.IPs, ip)
				}
				if _, ok := e.net.ip(id); !ok {
					t.Error("CNI GC released the network of a sandbox that still holds it")
				}
				if len(e.ports.table.Held(id)) == 0 {
					t.Error("the hostPort of a sandbox that still holds it was not restored")
				}
			}
			if tc.want == runtimeapi.PodSandboxState_SANDBOX_READY {
				if !e.sandbox(id).TakesContainers() {
					t.Error("a recovered READY sandbox takes no containers")
				}
				// kubelet's retry of the same attempt finds the sandbox.
				if again := e.run(pod); again != id {
					t.Errorf("Run of the recovered pod made %s, want %s", short(again), short(id))
				}
			}
			if err := e.m.Stop(reqCtx(t), id); err != nil {
				t.Fatalf("Stop: %v", err)
			}
			if err := e.m.Remove(reqCtx(t), id); err != nil {
				t.Fatalf("Remove: %v", err)
			}
			e.assertNothingLeft()
		})
	}
}

// What a crash between making a pod's namespaces and files and recording
// it in containerd left (or a Remove that the crash cut short) belongs
// to no sandbox: Recover removes it, and keeps what a live sandbox holds.
func TestRecoverRemovesWhatNoSandboxOwns(t *testing.T) {
	e := newEnv(t)
	live := e.run(pausePod("live"))
	gone := newID()
	state := e.m.stateDir(gone)
	for _, pin := range []string{netns.Path(e.m.netnsDir(), gone), filepath.Join(state, ipcFile), filepath.Join(state, utsFile)} {
		if err := e.node.pin(pin); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.node.MountShm(filepath.Join(state, shmFile)); err != nil {
		t.Fatal(err)
	}
	if err := writeFiles(&Metadata{Dir: e.m.sandboxDir(gone), Config: pausePod("gone")}, e.cfg.ResolvConf); err != nil {
		t.Fatal(err)
	}
	if err := EnsureLease(reqCtx(t), e.cfg.Containerd.Leases, gone); err != nil {
		t.Fatal(err)
	}
	if err := e.m.createRecord(reqCtx(t), gone, "io.containerd.runc.v2"); err != nil {
		t.Fatal(err)
	}
	e.restart(nil)
	if _, err := e.m.Store().Get(gone); err == nil {
		t.Error("a sandbox containerd never recorded is listed")
	}
	if got := e.status(live); got.State != runtimeapi.PodSandboxState_SANDBOX_READY {
		t.Errorf("the live sandbox is %s after recovery", got.State)
	}
	if err := e.m.Remove(reqCtx(t), live); err != nil {
		t.Fatal(err)
	}
	e.assertNothingLeft()
}

// A sandbox recorded by a Berth that kept no lease or containerd sandbox
// record gets them at recovery, so that its Remove deletes them as it
// does those of any sandbox.
func TestRecoverGivesOlderSandboxesTheirLeaseAndRecord(t *testing.T) {
	e := newEnv(t)
	id := e.run(pausePod("web"))
	e.restart(func() {
		e.cd.mu.Lock()
		delete(e.cd.leases, leasePrefix+id)
		delete(e.cd.records, id)
		e.cd.mu.Unlock()
	})
	if e.j.count("lease.create", leasePrefix+id) != 2 || e.j.count("record.create", id) != 2 {
		t.Errorf("the recovered sandbox did not get its lease and record again")
	}
	e.cd.mu.Lock()
	rec, ok := e.cd.records[id]
	e.cd.mu.Unlock()
	if !ok || rec.Runtime.Name != "io.containerd.runc.v2" {
		t.Errorf("recreated sandbox record %+v, want the pause's runtime", rec)
	}
	if err := e.m.Remove(reqCtx(t), id); err != nil {
		t.Fatal(err)
	}
	e.assertNothingLeft()
}

// A node upgraded from a Berth that kept a sandbox pool has the pool's
// pauses removed once at start, with everything they held; they are not
// listed as sandboxes.
func TestRecoverRemovesALegacyPoolSandbox(t *testing.T) {
	e := newEnv(t)
	id := e.run(pausePod("pooled"))
	e.restart(func() {
		// What the pool made: a running pause with namespaces, no network,
		// labelled as pooled.
		e.net.mu.Lock()
		delete(e.net.attached, id)
		e.net.mu.Unlock()
		e.cd.mu.Lock()
		rec := e.cd.containers[id]
		rec.Labels = map[string]string{LabelKind: kindLegacyPooled}
		e.cd.containers[id] = rec
		e.cd.mu.Unlock()
	})
	if e.cd.task(id) != nil {
		t.Error("the pooled pause's task is left")
	}
	if e.j.index("task.kill", id) < 0 {
		t.Error("the pooled pause was not killed")
	}
	if e.j.index("cgroup.remove-pool", legacyPoolCgroup) < 0 {
		t.Error("the pool's cgroups were not removed")
	}
	e.assertNothingLeft()
}

// Serving with an empty store would let kubelet create every pod twice:
// Recover fails when it cannot list containerd's sandboxes.
func TestRecoverFailsWhenContainerdCannotList(t *testing.T) {
	e := newEnv(t)
	e.run(pausePod("web"))
	e.cd.crash()
	e.j.failStep("container.list", errInjected)
	m := e.newManager()
	if _, err := m.Recover(reqCtx(t)); err == nil {
		t.Fatal("Recover succeeded without containerd's list of sandboxes")
	}
	if n := len(m.Store().List()); n != 0 {
		t.Errorf("%d sandboxes listed by a failed recovery", n)
	}
	// Nothing of the node was taken for a leftover.
	if slices.ContainsFunc(e.j.snapshot(), func(ev string) bool { return strings.HasPrefix(ev, "unpin ") }) {
		t.Error("a failed recovery unpinned namespaces")
	}
}
