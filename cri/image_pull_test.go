package cri

import (
	"context"
	"fmt"
	"testing"

	"github.com/containerd/errdefs"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/berth-cri/berth/images"
)

func TestPullImageAnswersTheID(t *testing.T) {
	env, fake := newImageEnv(t)
	resp, err := env.images.PullImage(context.Background(), &runtimeapi.PullImageRequest{
		Image: &runtimeapi.ImageSpec{Image: "busybox"},
		Auth:  &runtimeapi.AuthConfig{Username: "u", Password: "p", ServerAddress: "docker.io"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if resp.ImageRef != busyboxID {
		t.Errorf("image_ref = %q, want the ID %s, as ImageStatus and ListImages give", resp.ImageRef, busyboxID)
	}
	if got := imageStatus(t, env, "busybox", false).GetImage().GetId(); got != resp.ImageRef {
		t.Errorf("ImageStatus id %s differs from PullImage's %s", got, resp.ImageRef)
	}
	want := images.Auth{Username: "u", Password: "p", ServerAddress: "docker.io"}
	if len(fake.auths) != 1 || fake.auths[0] != want {
		t.Errorf("auth passed down as %v", fake.auths)
	}
}

func TestPullImageErrors(t *testing.T) {
	for _, tc := range []struct {
		name    string
		image   string
		handler string
		pullErr error
		want    codes.Code
	}{
		{name: "unknown image", image: "nope", pullErr: fmt.Errorf(`pull image "docker.io/library/nope:latest": not found: %w`, errdefs.ErrNotFound), want: codes.NotFound},
		{name: "refused credential", image: "busybox", pullErr: fmt.Errorf("rejected: %w", errdefs.ErrUnauthenticated), want: codes.Unauthenticated},
		{name: "stalled", image: "busybox", pullErr: fmt.Errorf("no data: %w", context.DeadlineExceeded), want: codes.DeadlineExceeded},
		{name: "invalid reference", image: "Busybox", pullErr: fmt.Errorf("invalid: %w", errdefs.ErrInvalidArgument), want: codes.InvalidArgument},
		{name: "unknown runtime handler", image: "busybox", handler: "kata", want: codes.InvalidArgument},
		{name: "second runtime handler", image: "busybox", handler: "crun", want: codes.OK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env, fake := newImageEnv(t)
			fake.pullErr = tc.pullErr
			_, err := env.images.PullImage(context.Background(), &runtimeapi.PullImageRequest{
				Image: &runtimeapi.ImageSpec{Image: tc.image, RuntimeHandler: tc.handler},
			})
			if status.Code(err) != tc.want {
				t.Fatalf("err = %v, want code %v", err, tc.want)
			}
		})
	}
}

func TestImageRPCsWithoutImageService(t *testing.T) {
	env := newTestEnv(t)
	env.svc.SetReady()
	_, err := env.images.ListImages(context.Background(), &runtimeapi.ListImagesRequest{})
	if status.Code(err) != codes.Unimplemented {
		t.Errorf("ListImages without an image service: %v", err)
	}
}
