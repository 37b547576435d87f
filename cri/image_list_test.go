package cri

import (
	"context"
	"slices"
	"testing"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

func TestListImagesFilter(t *testing.T) {
	env, _ := newImageEnv(t)
	for _, tc := range []struct {
		filter string
		want   []string
	}{
		{filter: "", want: []string{busyboxID, nginxID, pauseID}},
		{filter: "busybox", want: []string{busyboxID}},
		{filter: "busybox:1.36", want: []string{busyboxID}},
		{filter: "docker.io/library/busybox@" + digestA, want: []string{busyboxID}},
		{filter: nginxID, want: []string{nginxID}},
		{filter: "2222bbbb", want: []string{nginxID}},
		{filter: "quay.io/nginx/nginx", want: []string{nginxID}},
		{filter: "registry.k8s.io/pause", want: []string{pauseID}},
		{filter: "busybox:1.35"},
		{filter: "alpine"},
	} {
		t.Run(tc.filter, func(t *testing.T) {
			req := &runtimeapi.ListImagesRequest{}
			if tc.filter != "" {
				req.Filter = &runtimeapi.ImageFilter{Image: &runtimeapi.ImageSpec{Image: tc.filter}}
			}
			resp, err := env.images.ListImages(context.Background(), req)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, img := range resp.Images {
				got = append(got, img.Id)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("filter %q listed %v, want %v", tc.filter, got, tc.want)
			}
		})
	}
}

func TestStreamImagesBatches(t *testing.T) {
	env, fake := newImageEnv(t)
	base := fake.imgs[0]
	for i := range 450 {
		img := base
		img.ID = "sha256:" + string(rune('a'+i%6)) + base.ID[len("sha256:")+1:]
		img.References = nil
		fake.imgs = append(fake.imgs, img)
	}
	stream, err := env.images.StreamImages(context.Background(), &runtimeapi.StreamImagesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var sizes []int
	for {
		resp, err := stream.Recv()
		if err != nil {
			break
		}
		sizes = append(sizes, len(resp.Images))
	}
	if !slices.Equal(sizes, []int{200, 200, 53}) {
		t.Errorf("batches %v, want 200, 200, 53", sizes)
	}

	filtered, err := env.images.StreamImages(context.Background(), &runtimeapi.StreamImagesRequest{
		Filter: &runtimeapi.ImageFilter{Image: &runtimeapi.ImageSpec{Image: "nginx:1"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := filtered.Recv()
	if err != nil || len(resp.Images) != 1 || resp.Images[0].Id != nginxID {
		t.Errorf("filtered stream = %v, %v", resp, err)
	}
}
