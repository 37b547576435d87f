package cri

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

func conditions(t *testing.T, env *testEnv) map[string]*runtimeapi.RuntimeCondition {
	t.Helper()
	resp, err := env.runtime.Status(context.Background(), &runtimeapi.StatusRequest{})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*runtimeapi.RuntimeCondition{}
	for _, c := range resp.Status.Conditions {
		out[c.Type] = c
	}
	return out
}

func TestStatusConditions(t *testing.T) {
	for _, tc := range []struct {
		name                             string
		ready                            bool
		containerdErr, networkErr        error
		wantRuntime, wantNetwork         bool
		wantRuntimeReason, wantNetReason string
	}{
		{name: "all good", ready: true, wantRuntime: true, wantNetwork: true},
		{name: "still starting", ready: false, wantNetwork: true, wantRuntimeReason: "Starting"},
		{name: "containerd down", ready: true, containerdErr: errors.New("connection refused"), wantNetwork: true, wantRuntimeReason: "ContainerdUnavailable"},
		{name: "no cni config", ready: true, networkErr: errors.New("no network config found in /etc/cni/net.d"), wantRuntime: true, wantNetReason: "NetworkPluginNotReady"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := newTestEnv(t)
			if tc.ready {
				env.svc.SetReady()
			}
			env.containerd.err, env.network.err = tc.containerdErr, tc.networkErr
			c := conditions(t, env)
			rt, nw := c[runtimeapi.RuntimeReady], c[runtimeapi.NetworkReady]
			if rt == nil || nw == nil {
				t.Fatalf("both conditions must be present: %v", c)
			}
			if rt.Status != tc.wantRuntime || rt.Reason != tc.wantRuntimeReason {
				t.Errorf("RuntimeReady = %v (%q: %s), want %v (%q)", rt.Status, rt.Reason, rt.Message, tc.wantRuntime, tc.wantRuntimeReason)
			}
			if nw.Status != tc.wantNetwork || nw.Reason != tc.wantNetReason {
				t.Errorf("NetworkReady = %v (%q), want %v (%q)", nw.Status, nw.Reason, tc.wantNetwork, tc.wantNetReason)
			}
			if tc.networkErr != nil && nw.Message != tc.networkErr.Error() {
				t.Errorf("NetworkReady message %q should say why: %q", nw.Message, tc.networkErr)
			}
		})
	}
}

func TestStatusVerboseCarriesConfig(t *testing.T) {
	env := newTestEnv(t)
	env.svc.SetReady()
	resp, err := env.runtime.Status(context.Background(), &runtimeapi.StatusRequest{Verbose: true})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Info["config"] == "" {
		t.Fatalf("crictl info shows no config: %v", resp.Info)
	}
	quiet, _ := env.runtime.Status(context.Background(), &runtimeapi.StatusRequest{})
	if len(quiet.Info) != 0 {
		t.Fatalf("non-verbose Status carries info: %v", quiet.Info)
	}
}

func TestRuntimeConfigReportsTheCgroupDriver(t *testing.T) {
	env := newTestEnv(t)
	resp, err := env.runtime.RuntimeConfig(context.Background(), &runtimeapi.RuntimeConfigRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if got := resp.GetLinux().GetCgroupDriver(); got != runtimeapi.CgroupDriver_CGROUPFS {
		t.Fatalf("cgroup driver = %v; kubelet adopts it", got)
	}
}

func TestStatusAdvertisesSupplementalGroupsPolicy(t *testing.T) {
	env := newTestEnv(t)
	env.svc.SetReady()
	resp, err := env.runtime.Status(context.Background(), &runtimeapi.StatusRequest{})
	if err != nil {
		t.Fatal(err)
	}
	// kubelet only sends SupplementalGroupsPolicy=Strict to runtimes that
	// say they honour it.
	if !resp.GetFeatures().GetSupplementalGroupsPolicy() {
		t.Fatal("Status does not advertise supplemental_groups_policy")
	}
}

// TestStatusListsEveryHandlerWithItsProbedFeatures: kubelet refuses
// hostUsers: false pods, and recursive read-only mounts, on a handler that
// does not report them, and critest skips their specs; a pod without a
// RuntimeClass is looked up as "".
func TestStatusListsEveryHandlerWithItsProbedFeatures(t *testing.T) {
	env := newTestEnv(t)
	env.svc.SetReady()
	resp, err := env.runtime.Status(context.Background(), &runtimeapi.StatusRequest{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, h := range resp.GetRuntimeHandlers() {
		got[h.GetName()] = fmt.Sprintf("rro=%v userns=%v", h.GetFeatures().GetRecursiveReadOnlyMounts(), h.GetFeatures().GetUserNamespaces())
	}
	want := map[string]string{
		"":     "rro=true userns=false",  // the default, runc
		"runc": "rro=true userns=false",  // as its features document says
		"crun": "rro=false userns=false", // no features command: nothing claimed
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("runtime handlers = %v, want %v", got, want)
	}
}
