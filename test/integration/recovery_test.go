package integration

import (
	"fmt"
	"testing"
	"time"

	"github.com/containerd/containerd/v2/core/leases"
	sandboxstore "github.com/containerd/containerd/v2/core/sandbox"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/berth-cri/berth/test/harness"
)

type podView struct {
	state runtimeapi.PodSandboxState
	ip    string
	name  string
}

func snapshotPods(t *testing.T, d *harness.Daemon) map[string]podView {
	t.Helper()
	ctx, cancel := ctxTimeout(10 * time.Second)
	defer cancel()
	r, err := d.Runtime.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]podView{}
	for _, it := range r.Items {
		out[it.Id] = podView{state: it.State, ip: podStatus(t, d, it.Id).Status.GetNetwork().GetIp(), name: it.Metadata.Name}
	}
	return out
}

func TestPodsSurviveBerthdRestart(t *testing.T) {
	for _, kill := range []bool{false, true} {
		t.Run(fmt.Sprintf("kill=%v", kill), func(t *testing.T) {
			d := harness.Start(t)
			hostPort := freePort(t, "tcp")
			var ids []string
			// 50 pods in all, as issue 9 asks: 48 plain, one with a hostPort,
			// one on the host network; one of them stopped.
			for i := 0; i < 48; i++ {
				id, _ := runPod(t, d)
				ids = append(ids, id)
			}
			withPort, _ := runPod(t, d, withHostPort(runtimeapi.Protocol_TCP, 80, hostPort))
			hostNet, _ := runPod(t, d, withHostNetwork())
			ids = append(ids, withPort, hostNet)
			ctx, cancel := ctxTimeout(30 * time.Second)
			defer cancel()
			if _, err := d.Runtime.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: ids[0]}); err != nil {
				t.Fatal(err)
			}
			before := snapshotPods(t, d)
			// A pod made by a Berth that kept no containerd sandbox record,
			// and a record whose pod is gone.
			records := containerdOf(t, d).SandboxStore()
			if err := records.Delete(ctx, ids[1]); err != nil {
				t.Fatalf("delete the sandbox record of %s: %v", ids[1][:12], err)
			}
			now := time.Now()
			if _, err := records.Create(ctx, sandboxstore.Sandbox{
				ID: "gone", Labels: map[string]string{"io.berth.kind": "sandbox"}, Runtime: sandboxstore.RuntimeOpts{Name: "io.containerd.runc.v2"},
				CreatedAt: now, UpdatedAt: now,
			}); err != nil {
				t.Fatalf("create a stale sandbox record: %v", err)
			}
			// The same for the sandboxes' leases: one missing, one stale.
			leaseSvc := containerdOf(t, d).LeasesService()
			if err := leaseSvc.Delete(ctx, leases.Lease{ID: "berth-sandbox-" + ids[1]}); err != nil {
				t.Fatalf("delete the lease of %s: %v", ids[1][:12], err)
			}
			if _, err := leaseSvc.Create(ctx, leases.WithID("berth-sandbox-gone"), leases.WithLabel("io.berth.kind", "sandbox")); err != nil {
				t.Fatalf("create a stale sandbox lease: %v", err)
			}

			restartStart := time.Now()
			if kill {
				d.KillAndRestart()
			} else {
				d.Restart()
			}
			t.Logf("berthd ready %v after the restart, with %d sandboxes to recover", time.Since(restartStart).Round(time.Millisecond), len(before))

			after := snapshotPods(t, d)
			if len(after) != len(before) {
				t.Fatalf("%d sandboxes before the restart, %d after", len(before), len(after))
			}
			for id, b := range before {
				if a, ok := after[id]; !ok || a != b {
					t.Errorf("sandbox %s: before %+v, after %+v", id[:12], b, after[id])
				}
			}
			records = containerdOf(t, d).SandboxStore()
			if _, err := records.Get(ctx, ids[1]); err != nil {
				t.Errorf("recovery did not give pod %s its sandbox record back: %v", ids[1][:12], err)
			}
			if _, err := records.Get(ctx, "gone"); err == nil {
				t.Error("recovery kept the sandbox record of a pod that is gone")
			}
			kept, err := containerdOf(t, d).LeasesService().List(ctx)
			if err != nil {
				t.Fatal(err)
			}
			leaseIDs := map[string]bool{}
			for _, l := range kept {
				leaseIDs[l.ID] = true
			}
			if !leaseIDs["berth-sandbox-"+ids[1]] || leaseIDs["berth-sandbox-gone"] {
				t.Errorf("after recovery, lease of pod %s kept: %v, stale lease kept: %v; want true, false", ids[1][:12], leaseIDs["berth-sandbox-"+ids[1]], leaseIDs["berth-sandbox-gone"])
			}
			// The hostPort is still reserved by its pod.
			_, err = d.Runtime.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: podConfig(withHostPort(runtimeapi.Protocol_TCP, 80, hostPort))})
			if err == nil {
				t.Fatalf("hostPort %d handed out twice after the restart", hostPort)
			}
			// Pods still reach each other after the restart.
			l, _ := listenInPod(t, d, ids[1], "tcp", ":8080")
			serveGreeting(l, "still here")
			if got, err := dialFromPod(t, d, ids[2], after[ids[1]].ip+":8080"); err != nil || got != "still here" {
				t.Fatalf("pod to pod after the restart: %q %v", got, err)
			}
			// Teardown after the restart releases everything.
			var ips []string
			for _, id := range ids {
				ips = append(ips, after[id].ip)
				removePod(t, d, id)
			}
			if left := leftovers(t, d, ids, ips); len(left) > 0 {
				t.Fatalf("leaked after a restart and teardown: %v", left)
			}
		})
	}
}
