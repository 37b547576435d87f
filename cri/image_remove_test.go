package cri

import (
	"context"
	"slices"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

func removeImage(env *testEnv, ref string) error {
	_, err := env.images.RemoveImage(context.Background(), &runtimeapi.RemoveImageRequest{Image: &runtimeapi.ImageSpec{Image: ref}})
	return err
}

func TestRemoveImage(t *testing.T) {
	env, fake := newImageEnv(t)
	// By one tag: the image goes with all its names.
	if err := removeImage(env, "busybox:1.36"); err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{"busybox:latest", busyboxID, "docker.io/library/busybox@" + digestA} {
		if resp := imageStatus(t, env, ref, false); resp.Image != nil {
			t.Errorf("%s still there after removing busybox:1.36", ref)
		}
	}
	// By ID, then again: the second is of an unknown image, a success.
	for range 2 {
		if err := removeImage(env, nginxID); err != nil {
			t.Fatalf("remove %s: %v", nginxID, err)
		}
	}
	if err := removeImage(env, "never-pulled:1"); err != nil {
		t.Errorf("removing an unknown image: %v", err)
	}
	if !slices.Equal(fake.removed, []string{busyboxID, nginxID}) {
		t.Errorf("removed %v", fake.removed)
	}
	if err := removeImage(env, ""); status.Code(err) != codes.InvalidArgument {
		t.Errorf("removing an empty reference: %v, want InvalidArgument", err)
	}
}
