package cri

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

func imageStatus(t *testing.T, env *testEnv, ref string, verbose bool) *runtimeapi.ImageStatusResponse {
	t.Helper()
	resp, err := env.images.ImageStatus(context.Background(), &runtimeapi.ImageStatusRequest{Image: &runtimeapi.ImageSpec{Image: ref}, Verbose: verbose})
	if err != nil {
		t.Fatalf("ImageStatus(%q): %v", ref, err)
	}
	return resp
}

func TestImageStatus(t *testing.T) {
	env, _ := newImageEnv(t)
	for _, tc := range []struct {
		ref      string
		wantID   string
		uid      *int64
		username string
		pinned   bool
	}{
		{ref: "busybox", wantID: busyboxID, username: "nobody"},
		{ref: busyboxID, wantID: busyboxID, username: "nobody"},
		{ref: "docker.io/library/busybox@" + digestA, wantID: busyboxID, username: "nobody"},
		{ref: "nginx:1", wantID: nginxID, uid: ptr(int64(101))},
		{ref: "registry.k8s.io/pause:3.10.1", wantID: pauseID, uid: ptr(int64(65535)), pinned: true},
	} {
		img := imageStatus(t, env, tc.ref, false).GetImage()
		if img.GetId() != tc.wantID || img.GetUsername() != tc.username || img.GetPinned() != tc.pinned {
			t.Errorf("%s: id %s username %q pinned %v", tc.ref, img.GetId(), img.GetUsername(), img.GetPinned())
		}
		if (img.GetUid() == nil) != (tc.uid == nil) || (tc.uid != nil && img.GetUid().GetValue() != *tc.uid) {
			t.Errorf("%s: uid %v, want %v", tc.ref, img.GetUid(), tc.uid)
		}
	}
}

func TestImageStatusUnknownIsEmpty(t *testing.T) {
	env, _ := newImageEnv(t)
	for _, ref := range []string{"alpine", "busybox:1.0", "sha256:9999000000000000000000000000000000000000000000000000000000000000"} {
		resp := imageStatus(t, env, ref, true)
		if resp.Image != nil || len(resp.Info) != 0 {
			t.Errorf("%s: got %v, want an empty response", ref, resp)
		}
	}
}

// TestImageStatusByHandler: an image is the same for every configured
// handler (one snapshotter); a handler that is not configured is refused,
// naming those that are.
func TestImageStatusByHandler(t *testing.T) {
	env, _ := newImageEnv(t)
	want := imageStatus(t, env, "busybox", false).GetImage().GetId()
	if want == "" {
		t.Fatal("busybox is not among the test images")
	}
	resp, err := env.images.ImageStatus(context.Background(), &runtimeapi.ImageStatusRequest{Image: &runtimeapi.ImageSpec{Image: "busybox", RuntimeHandler: "crun"}})
	if err != nil || resp.GetImage().GetId() != want {
		t.Errorf("ImageStatus under crun = %v, %v; want image %s", resp, err, want)
	}
	_, err = env.images.ImageStatus(context.Background(), &runtimeapi.ImageStatusRequest{Image: &runtimeapi.ImageSpec{Image: "busybox", RuntimeHandler: "kata"}})
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "known: crun, runc") {
		t.Errorf("ImageStatus under an unconfigured handler: %v; want InvalidArgument naming crun, runc", err)
	}
}

func TestImageStatusVerbose(t *testing.T) {
	env, _ := newImageEnv(t)
	if resp := imageStatus(t, env, "busybox", false); resp.Info != nil {
		t.Errorf("not verbose, yet info %v", resp.Info)
	}
	resp := imageStatus(t, env, "busybox", true)
	var info struct {
		ImageSpec struct {
			Config struct{ User string } `json:"config"`
		} `json:"imageSpec"`
		References []string `json:"references"`
	}
	if err := json.Unmarshal([]byte(resp.Info["info"]), &info); err != nil {
		t.Fatalf("info is not JSON: %v: %s", err, resp.Info["info"])
	}
	if info.ImageSpec.Config.User != "nobody" || len(info.References) != 4 {
		t.Errorf("info = %s", resp.Info["info"])
	}
}

func ptr[T any](v T) *T { return &v }
