package cri

import (
	"context"
	"testing"
)

func TestVersionIsWhatKubeletAccepts(t *testing.T) {
	env := newTestEnv(t)
	// Version answers before start-up finishes: kubelet calls it first.
	v, err := env.runtime.Version(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if v.Version != "0.1.0" {
		t.Errorf("version = %q; kubelet refuses anything but 0.1.0", v.Version)
	}
	if v.RuntimeName != "berth" || v.RuntimeVersion == "" || v.RuntimeApiVersion != "v1" {
		t.Errorf("cri-client rejects empty fields: %+v", v)
	}
}
