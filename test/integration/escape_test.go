package integration

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

func TestLogPathCannotLeaveThePodLogDirectory(t *testing.T) {
	d, image := startWithBusybox(t)
	logDir := filepath.Join(d.Dir, "pods", "ns_pod_uid")
	pod, podCfg := runPod(t, d, withLogDir(logDir))
	target := filepath.Join(d.Dir, "escaped.log")
	ctx, cancel := ctxTimeout(30 * time.Second)
	defer cancel()
	cfg := ctrConfig(image)
	cfg.LogPath = "../../escaped.log" // berthd writes logs as root
	_, err := d.Runtime.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{PodSandboxId: pod, Config: cfg, SandboxConfig: podCfg})
	if status.Code(err) != codes.InvalidArgument {
		t.Fatalf("log_path climbing out of the log directory: want InvalidArgument, got %v", err)
	}
	if _, err := os.Stat(target); !os.IsNotExist(err) {
		t.Fatalf("a file was written outside the pod's log directory: %v", err)
	}
}
