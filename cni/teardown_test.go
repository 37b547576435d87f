package cni

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/containerd/errdefs"
)

// A new berthd (new Manager) with a different config must still DEL with
// the config and args the ADD got: plugins find what to release from them.
func TestTeardownAfterRestartUsesWhatTheAddWasGiven(t *testing.T) {
	e := newFaultEnv(t)
	conf := filepath.Join(e.confDir, "10-net.conflist")
	writeFile(t, conf, e.faultConflist("old-net", "10.99.0.5/24"))
	ctx := context.Background()

	_, err := e.manager(t).Setup(ctx, SandboxNetwork{
		ID: "sb1", NetNSPath: fakeNetNS, PodName: "web-0", PodNamespace: "shop",
		PortMappings: []PortMapping{{HostPort: 8080, ContainerPort: 80, Protocol: "tcp"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, conf, e.faultConflist("new-net", "10.98.0.5/24"))

	restarted := e.manager(t)
	if err := restarted.Teardown(ctx, "sb1"); err != nil {
		t.Fatalf("Teardown after restart: %v", err)
	}
	del := e.seen(t, "DEL", "sb1")
	if del.Config.Name != "old-net" {
		t.Errorf("DEL ran with network %q, want the ADD's old-net", del.Config.Name)
	}
	if !strings.Contains(del.Args, "K8S_POD_NAME=web-0") || !strings.Contains(string(del.Config.RuntimeConfig), `"hostPort":8080`) {
		t.Errorf("DEL lacks the ADD's args or port mappings: args %q runtimeConfig %s", del.Args, del.Config.RuntimeConfig)
	}
	if del.NetNS != "" {
		t.Errorf("DEL got CNI_NETNS %q for a namespace that does not exist, want empty", del.NetNS)
	}

	// Twice is fine and runs nothing more.
	if err := restarted.Teardown(ctx, "sb1"); err != nil {
		t.Fatalf("second Teardown: %v", err)
	}
	if n := e.count(t, "DEL", "sb1"); n != 1 {
		t.Errorf("DEL ran %d times, want 1", n)
	}
	if ents, _ := os.ReadDir(filepath.Join(e.state, "cache", "results")); len(ents) != 0 {
		t.Errorf("libcni cache still holds %d entries", len(ents))
	}
}

func TestTeardownAfterAFailedAdd(t *testing.T) {
	e := newFaultEnv(t)
	writeFile(t, filepath.Join(e.confDir, "10-net.conflist"), e.faultConflist("podnet", "10.99.0.5/24"))
	m := e.manager(t)
	ctx := context.Background()

	stop := e.inject(t, "fail", "ADD", "no more addresses")
	_, err := m.Setup(ctx, SandboxNetwork{ID: "sb1", NetNSPath: fakeNetNS})
	if err == nil || !strings.Contains(err.Error(), "no more addresses") {
		t.Fatalf("Setup = %v, want the plugin's error", err)
	}
	stop()

	if err := m.Teardown(ctx, "sb1"); err != nil {
		t.Fatalf("Teardown after a failed ADD: %v", err)
	}
	if n := e.count(t, "DEL", "sb1"); n != 1 {
		t.Errorf("DEL ran %d times after a failed ADD, want 1 (the plugin may hold half of the attachment)", n)
	}
	if _, err := e.manager(t).store.load("sb1"); !errdefs.IsNotFound(err) {
		t.Errorf("record still there after Teardown: %v", err)
	}
}

func TestTeardownKeepsTheRecordWhenDelFails(t *testing.T) {
	e := newFaultEnv(t)
	writeFile(t, filepath.Join(e.confDir, "10-net.conflist"), e.faultConflist("podnet", "10.99.0.5/24"))
	m := e.manager(t)
	ctx := context.Background()
	if _, err := m.Setup(ctx, SandboxNetwork{ID: "sb1", NetNSPath: fakeNetNS}); err != nil {
		t.Fatal(err)
	}

	stop := e.inject(t, "fail", "DEL", "iptables is locked")
	if err := m.Teardown(ctx, "sb1"); err == nil || !strings.Contains(err.Error(), "iptables is locked") {
		t.Fatalf("Teardown = %v, want the plugin's error", err)
	}
	stop()
	if err := m.Teardown(ctx, "sb1"); err != nil {
		t.Fatalf("retried Teardown: %v", err)
	}
	if n := e.count(t, "DEL", "sb1"); n != 2 {
		t.Errorf("DEL ran %d times, want 2 (failed, then retried)", n)
	}
}

func TestTeardownOfAnUnknownSandboxRunsNothing(t *testing.T) {
	e := newFaultEnv(t)
	writeFile(t, filepath.Join(e.confDir, "10-net.conflist"), e.faultConflist("podnet", "10.99.0.5/24"))
	if err := e.manager(t).Teardown(context.Background(), "never-set-up"); err != nil {
		t.Fatalf("Teardown = %v, want nil", err)
	}
	if calls := e.calls(t); len(calls) != 0 {
		t.Errorf("plugins ran: %v", calls)
	}
}

// An attachment only libcni's cache knows (made before Berth kept records,
// or by another tool sharing the cache dir) is still deleted, with the
// config libcni cached.
func TestTeardownDeletesWhatOnlyLibcniCached(t *testing.T) {
	e := newFaultEnv(t)
	writeFile(t, filepath.Join(e.confDir, "10-net.conflist"), e.faultConflist("podnet", "10.99.0.5/24"))
	m := e.manager(t)
	ctx := context.Background()
	if _, err := m.Setup(ctx, SandboxNetwork{ID: "sb1", NetNSPath: fakeNetNS}); err != nil {
		t.Fatal(err)
	}
	if err := m.store.remove("sb1"); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(e.confDir, "10-net.conflist"), e.faultConflist("other", "10.99.0.5/24"))

	if err := m.Teardown(ctx, "sb1"); err != nil {
		t.Fatal(err)
	}
	if del := e.seen(t, "DEL", "sb1"); del.Config.Name != "podnet" {
		t.Errorf("DEL from the cache ran network %q, want podnet", del.Config.Name)
	}
}

func TestCheck(t *testing.T) {
	e := newFaultEnv(t)
	writeFile(t, filepath.Join(e.confDir, "10-net.conflist"), e.faultConflist("podnet", "10.99.0.5/24"))
	m := e.manager(t)
	ctx := context.Background()

	if err := m.Check(ctx, "unknown"); !errdefs.IsNotFound(err) {
		t.Errorf("Check of an unknown sandbox = %v, want NotFound", err)
	}

	// The fault plugin never enters it, so any existing file will do.
	netnsFile := filepath.Join(t.TempDir(), "netns")
	writeFile(t, netnsFile, "")
	if _, err := m.Setup(ctx, SandboxNetwork{ID: "sb1", NetNSPath: netnsFile, PodName: "web-0"}); err != nil {
		t.Fatal(err)
	}
	if err := m.Check(ctx, "sb1"); err != nil {
		t.Fatalf("Check: %v", err)
	}
	check := e.seen(t, "CHECK", "sb1")
	if !strings.Contains(string(check.Config.PrevResult), "10.99.0.5") || !strings.Contains(check.Args, "K8S_POD_NAME=web-0") {
		t.Errorf("CHECK lacks the ADD's result or args: prevResult %s args %q", check.Config.PrevResult, check.Args)
	}

	stop := e.inject(t, "fail", "CHECK", "veth is gone")
	if err := m.Check(ctx, "sb1"); err == nil || !strings.Contains(err.Error(), "veth is gone") {
		t.Errorf("Check = %v, want the plugin's error", err)
	}
	stop()

	if err := os.Remove(netnsFile); err != nil {
		t.Fatal(err)
	}
	if err := m.Check(ctx, "sb1"); !errdefs.IsFailedPrecondition(err) {
		t.Errorf("Check after the namespace went = %v, want FailedPrecondition", err)
	}
}

func TestGCDeletesAttachmentsOfSandboxesThatAreGone(t *testing.T) {
	e := newFaultEnv(t)
	writeFile(t, filepath.Join(e.confDir, "10-net.conflist"), e.faultConflist("podnet", "10.99.0.5/24"))
	m := e.manager(t)
	ctx := context.Background()
	for _, id := range []string{"live", "dead1", "dead2"} {
		if _, err := m.Setup(ctx, SandboxNetwork{ID: id, NetNSPath: fakeNetNS}); err != nil {
			t.Fatal(err)
		}
	}
	// dead2's ADD failed halfway: only Berth's record knows it.
	stop := e.inject(t, "fail", "ADD", "boom")
	if _, err := m.Setup(ctx, SandboxNetwork{ID: "half", NetNSPath: fakeNetNS}); err == nil {
		t.Fatal("injected ADD failure did not fail Setup")
	}
	stop()

	if err := e.manager(t).GC(ctx, []string{"live"}); err != nil {
		t.Fatalf("GC: %v", err)
	}
	for id, want := range map[string]int{"live": 0, "dead1": 1, "dead2": 1, "half": 1} {
		if n := e.count(t, "DEL", id); n != want {
			t.Errorf("GC ran DEL %d times for %s, want %d", n, id, want)
		}
	}
	gc := e.seen(t, "GC", "")
	var valid []struct {
		ContainerID string `json:"containerID"`
		IfName      string `json:"ifname"`
	}
	if err := json.Unmarshal(gc.Config.Valid, &valid); err != nil || len(valid) != 1 || valid[0].ContainerID != "live" || valid[0].IfName != "eth0" {
		t.Errorf("plugin GC got valid attachments %s, want only live/eth0", gc.Config.Valid)
	}
	ids, _ := m.store.ids()
	if !slices.Equal(ids, []string{"live"}) {
		t.Errorf("records left after GC: %v, want [live]", ids)
	}
}

func TestStatusAsksThePlugins(t *testing.T) {
	e := newFaultEnv(t)
	writeFile(t, filepath.Join(e.confDir, "10-net.conflist"), e.faultConflist("podnet", "10.99.0.5/24"))
	m := e.manager(t)
	ctx := context.Background()
	if err := m.Status(ctx); err != nil {
		t.Fatalf("Status: %v", err)
	}
	if n := e.count(t, "STATUS", ""); n != 1 {
		t.Errorf("STATUS ran %d times, want 1", n)
	}
	stop := e.inject(t, "fail", "STATUS", "bridge is down")
	defer stop()
	if err := m.Status(ctx); err == nil || !strings.Contains(err.Error(), "bridge is down") {
		t.Errorf("Status = %v, want the plugin's reason", err)
	}
	if err := m.Ready(); err != nil {
		t.Errorf("Ready runs no plugin and should stay nil: %v", err)
	}
}

// A RunPodSandbox whose deadline passes during ADD must not leak: the
// plugin is killed, Setup says why, and a Teardown on a fresh context
// still runs DEL (containerd#5438).
func TestSetupPastItsDeadlineCanBeTornDown(t *testing.T) {
	e := newFaultEnv(t)
	writeFile(t, filepath.Join(e.confDir, "10-net.conflist"), e.faultConflist("podnet", "10.99.0.5/24"))
	m := e.manager(t)
	stop := e.inject(t, "sleep", "ADD", "10s")

	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := m.Setup(ctx, SandboxNetwork{ID: "slow", NetNSPath: fakeNetNS})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Setup past its deadline = %v, want DeadlineExceeded", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("Setup took %v: the plugin was not killed at the deadline", took)
	}
	stop()

	if err := m.Teardown(context.Background(), "slow"); err != nil {
		t.Fatalf("Teardown: %v", err)
	}
	if n := e.count(t, "DEL", "slow"); n != 1 {
		t.Errorf("DEL ran %d times, want 1", n)
	}
}
