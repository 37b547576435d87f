package integration

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/berth-cri/berth/test/harness"
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

func TestStateFilesAreNotWorldReadable(t *testing.T) {
	d := harness.Start(t)
	runPod(t, d, withHostPort(runtimeapi.Protocol_TCP, 80, freePort(t, "tcp")))
	if fi, err := os.Stat(d.Socket); err != nil || fi.Mode().Perm() != 0o660 || fi.Sys().(*syscall.Stat_t).Uid != 0 {
		t.Fatalf("CRI socket: %v %v", fi.Mode(), err)
	}
	// A container of any uid reads its pod's hosts, resolv.conf and hostname
	// through bind mounts; image content is containerd's. Nothing else of
	// berthd's (CNI records, configs, pid files) may be readable by others.
	readableByDesign := map[string]bool{"hosts": true, "resolv.conf": true, "hostname": true}
	for _, dir := range []string{d.Root, d.State} {
		filepath.WalkDir(dir, func(path string, e os.DirEntry, err error) error {
			if err != nil {
				return nil
			}
			// Image content is containerd's; a pinned network namespace is a
			// handle, not data (joining it needs CAP_SYS_ADMIN), as with
			// ip netns.
			if e.IsDir() && (strings.Contains(path, "/io.containerd.") || path == filepath.Join(d.State, "netns")) {
				return filepath.SkipDir
			}
			fi, err := e.Info()
			if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm()&0o004 == 0 {
				return nil
			}
			if !readableByDesign[filepath.Base(path)] {
				t.Errorf("%s is readable by every user (%v)", path, fi.Mode().Perm())
			}
			return nil
		})
	}
}
