package cri

import (
	"context"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/containerd/errdefs"
)

func TestImageFsInfo(t *testing.T) {
	env, fake := newImageEnv(t)
	resp, err := env.images.ImageFsInfo(context.Background(), &runtimeapi.ImageFsInfoRequest{})
	if err != nil {
		t.Fatal(err)
	}
	check := func(kind string, fs []*runtimeapi.FilesystemUsage, bytes, inodes uint64) {
		if len(fs) != 1 {
			t.Fatalf("%s filesystems: %d entries, want 1", kind, len(fs))
		}
		u := fs[0]
		// kubelet dereferences UsedBytes without a nil check.
		if u.UsedBytes == nil || u.InodesUsed == nil || u.UsedBytes.Value != bytes || u.InodesUsed.Value != inodes {
			t.Errorf("%s: used %v inodes %v, want %d %d", kind, u.UsedBytes, u.InodesUsed, bytes, inodes)
		}
		if u.GetFsId().GetMountpoint() != fake.fsUsage.Mountpoint || u.Timestamp != fake.fsUsage.Timestamp.UnixNano() {
			t.Errorf("%s: fs id %v timestamp %d", kind, u.FsId, u.Timestamp)
		}
	}
	check("image", resp.ImageFilesystems, 4096, 12)
	check("container", resp.ContainerFilesystems, 512, 3)

	fake.fsErr = errdefs.ErrUnavailable
	if _, err := env.images.ImageFsInfo(context.Background(), &runtimeapi.ImageFsInfoRequest{}); status.Code(err) != codes.Unavailable {
		t.Errorf("measurement failure: %v", err)
	}
}
