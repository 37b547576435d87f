package cri

import (
	"context"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

func updateCIDR(env *testEnv, cidr string) error {
	_, err := env.runtime.UpdateRuntimeConfig(context.Background(), &runtimeapi.UpdateRuntimeConfigRequest{
		RuntimeConfig: &runtimeapi.RuntimeConfig{NetworkConfig: &runtimeapi.NetworkConfig{PodCidr: cidr}},
	})
	return err
}

func TestUpdateRuntimeConfigRecordsThePodCIDR(t *testing.T) {
	env := newTestEnv(t)
	env.svc.SetReady()
	if err := updateCIDR(env, "10.244.1.0/24,fd00:10:244:1::/64"); err != nil {
		t.Fatal(err)
	}
	resp, err := env.runtime.Status(context.Background(), &runtimeapi.StatusRequest{Verbose: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := resp.Info["podCIDR"]; got != "10.244.1.0/24,fd00:10:244:1::/64" {
		t.Fatalf("crictl info podCIDR = %q", got)
	}
	if resp.Info["config"] == "" {
		t.Fatal("verbose status lost the config")
	}
	if err := updateCIDR(env, "10.244.1.0/33"); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("bad CIDR: want InvalidArgument, got %v", err)
	}
	if err := updateCIDR(env, ""); err != nil {
		t.Fatalf("an empty update is a no-op: %v", err)
	}
}
