package integration

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
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
		_ = filepath.WalkDir(dir, func(path string, e os.DirEntry, err error) error { // what vanishes mid-walk is skipped
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
			// A pod's IPC, UTS or user namespace pin shows the namespace's
			// own mode (0444): a handle, like the network namespace's.
			var fs unix.Statfs_t
			if unix.Statfs(path, &fs) == nil && fs.Type == unix.NSFS_MAGIC {
				return nil
			}
			if !readableByDesign[filepath.Base(path)] {
				t.Errorf("%s is readable by every user (%v)", path, fi.Mode().Perm())
			}
			return nil
		})
	}
}

// A pod with a writable hostPath on /var/log (a log shipper) swaps a
// container's log file for a symlink to a host file, before the container
// starts or between kubelet's rotation and ReopenContainerLog. berthd writes
// logs as root: it must not append container output to the target.
func TestLogSymlinkCannotRedirectContainerOutput(t *testing.T) {
	d, image := startWithBusybox(t)
	logDir := filepath.Join(d.Dir, "pods", "ns_pod_uid")
	pod, podCfg := runPod(t, d, withLogDir(logDir))
	target := filepath.Join(d.Dir, "host-file")
	const original = "root:x:0:0:root:/root:/bin/sh\n"
	if err := os.WriteFile(target, []byte(original), 0o644); err != nil {
		t.Fatal(err)
	}
	plant := func(path string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, path); err != nil {
			t.Fatal(err)
		}
	}
	untouched := func(when string) {
		t.Helper()
		if b, _ := os.ReadFile(target); string(b) != original {
			t.Fatalf("%s: container output reached the host file: %q", when, b)
		}
	}
	tick := withShell("while true; do echo tick; sleep 0.1; done")

	cfg := ctrConfig(image, tick)
	plant(filepath.Join(logDir, cfg.LogPath))
	id := createContainer(t, d, pod, podCfg, cfg)
	if _, err := d.Runtime.StartContainer(ctxBG(t), &runtimeapi.StartContainerRequest{ContainerId: id}); err == nil {
		t.Error("StartContainer with a symlink for its log file succeeded")
	}
	time.Sleep(500 * time.Millisecond)
	untouched("before start")

	cfg = ctrConfig(image, tick)
	path := filepath.Join(logDir, cfg.LogPath)
	id = runContainer(t, d, pod, podCfg, cfg)
	d.WaitFor("a log line", 10*time.Second, func() bool { return len(readLines(path)) > 0 })
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	plant(path)
	if _, err := d.Runtime.ReopenContainerLog(ctxBG(t), &runtimeapi.ReopenContainerLogRequest{ContainerId: id}); err == nil {
		t.Error("ReopenContainerLog through a symlink succeeded")
	}
	time.Sleep(500 * time.Millisecond)
	untouched("before reopen")

	// Once the symlink is gone, the next reopen logs again.
	os.Remove(path)
	if _, err := d.Runtime.ReopenContainerLog(ctxBG(t), &runtimeapi.ReopenContainerLogRequest{ContainerId: id}); err != nil {
		t.Fatalf("ReopenContainerLog: %v", err)
	}
	d.WaitFor("lines in the reopened log", 10*time.Second, func() bool { return len(readLines(path)) > 0 })
	untouched("after reopen")
}

// CheckpointPod names each container's files after its metadata name: a
// CRI client naming a container "../../etc/cron.d/x" would have it write
// outside the output directory. Such a name is refused at create.
func TestCheckpointNameCannotLeaveTheOutputDirectory(t *testing.T) {
	d, image := startWithBusybox(t)
	pod, podCfg := runPod(t, d)
	for _, name := range []string{"../../etc/cron.d/x", "a/b", ".."} {
		cfg := ctrConfig(image)
		cfg.Metadata.Name = name
		_, err := d.Runtime.CreateContainer(ctxBG(t), &runtimeapi.CreateContainerRequest{PodSandboxId: pod, Config: cfg, SandboxConfig: podCfg})
		if status.Code(err) != codes.InvalidArgument {
			t.Errorf("CreateContainer named %q: want InvalidArgument, got %v", name, err)
		}
	}
}

// Pod authors' text reaches the pod's resolv.conf, hosts and hostname
// files and, through runc, the kernel's sysctls; cgroup_parent places its
// cgroups. What would add lines to a file, change the node, or climb out of
// kubelet's cgroups is refused with InvalidArgument before anything is made.
func TestPodTextIsRefusedBeforeAnythingIsMade(t *testing.T) {
	d := harness.Start(t)
	for name, mutate := range map[string]PodOption{
		"dns option adding a nameserver": func(c *runtimeapi.PodSandboxConfig) {
			c.DnsConfig = &runtimeapi.DNSConfig{Servers: []string{"10.96.0.10"}, Options: []string{"ndots:5\nnameserver 192.0.2.1"}}
		},
		"nameserver not an address": func(c *runtimeapi.PodSandboxConfig) {
			c.DnsConfig = &runtimeapi.DNSConfig{Servers: []string{"evil.example"}}
		},
		"hostname adding a hosts entry": func(c *runtimeapi.PodSandboxConfig) { c.Hostname = "web\n192.0.2.1 kubernetes.default" },
		"node-wide sysctl": func(c *runtimeapi.PodSandboxConfig) {
			c.Linux.Sysctls = map[string]string{"kernel.core_pattern": "|/tmp/x"}
		},
		"net sysctl in a host-network pod": func(c *runtimeapi.PodSandboxConfig) {
			withHostNetwork()(c)
			c.Linux.Sysctls = map[string]string{"net.ipv4.ip_forward": "0"}
		},
		"cgroup parent climbing": func(c *runtimeapi.PodSandboxConfig) { c.Linux.CgroupParent = "/kubepods/../../system.slice" },
		"relative cgroup parent": func(c *runtimeapi.PodSandboxConfig) { c.Linux.CgroupParent = "kubepods/pod1" },
	} {
		_, err := d.Runtime.RunPodSandbox(ctxBG(t), &runtimeapi.RunPodSandboxRequest{Config: podConfig(mutate)})
		if status.Code(err) != codes.InvalidArgument {
			t.Errorf("%s: RunPodSandbox = %v, want InvalidArgument", name, err)
		}
	}
	resp, err := d.Runtime.ListPodSandbox(ctxBG(t), &runtimeapi.ListPodSandboxRequest{})
	if err != nil || len(resp.Items) != 0 {
		t.Errorf("refused pods left sandboxes: %v %v", resp.GetItems(), err)
	}
	if left := netnsLeft(d); len(left) != 0 {
		t.Errorf("refused pods left network namespaces: %v", left)
	}
}

func netnsLeft(d *harness.Daemon) []string {
	entries, _ := os.ReadDir(filepath.Join(d.State, "netns"))
	var paths []string
	for _, e := range entries {
		paths = append(paths, filepath.Join(d.State, "netns", e.Name()))
	}
	return paths
}
