package integration

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/containerd/containerd/v2/core/leases"
	"github.com/containerd/errdefs"
	"golang.org/x/sys/unix"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/berth-cri/berth/test/harness"
)

// TestContainer drives containers through one berthd, as kubelet does.
func TestContainer(t *testing.T) {
	d, image := startWithBusybox(t)
	digests := imageDigests(t)

	t.Run("LifecycleAndStatus", func(t *testing.T) {
		logDir := t.TempDir()
		pod, podCfg := runPod(t, d, withLogDir(logDir))
		cfg := ctrConfig(image, withCtrLabels(map[string]string{"tier": "web"}))
		id := createContainer(t, d, pod, podCfg, cfg)

		st := ctrStatus(t, d, id).Status
		if st.State != runtimeapi.ContainerState_CONTAINER_CREATED || st.CreatedAt == 0 || st.StartedAt != 0 {
			t.Errorf("after create: state %v created %d started %d", st.State, st.CreatedAt, st.StartedAt)
		}
		wantRef := "registry.k8s.io/e2e-test-images/busybox@" + digests[busyboxRef]
		if st.ImageRef != wantRef || st.ImageId != image || st.Image.GetImage() != busyboxRef {
			t.Errorf("image = %q, image_ref = %q, image_id = %q; want %q, %q, %q", st.Image.GetImage(), st.ImageRef, st.ImageId, busyboxRef, wantRef, image)
		}
		if st.LogPath != filepath.Join(logDir, cfg.LogPath) {
			t.Errorf("log_path = %q, want %q", st.LogPath, filepath.Join(logDir, cfg.LogPath))
		}
		if st.Labels["tier"] != "web" || st.Annotations["io.kubernetes.container.restartCount"] != "0" || st.Metadata.Name != cfg.Metadata.Name {
			t.Errorf("labels %v, annotations %v, metadata %v do not round-trip", st.Labels, st.Annotations, st.Metadata)
		}
		if u := st.User.GetLinux(); u == nil || u.Uid != 0 || u.Gid != 0 {
			t.Errorf("user = %v, want uid 0 gid 0", u)
		}
		if st.Resources.GetLinux().GetCpuShares() != 2 {
			t.Errorf("resources = %v, want the configured cpu shares", st.Resources)
		}

		startContainer(t, d, id)
		st = ctrStatus(t, d, id).Status
		if st.State != runtimeapi.ContainerState_CONTAINER_RUNNING || st.StartedAt < st.CreatedAt {
			t.Errorf("after start: state %v started %d", st.State, st.StartedAt)
		}
		var info struct {
			Pid       int    `json:"pid"`
			SandboxID string `json:"sandboxID"`
		}
		decodeInfo(t, ctrStatus(t, d, id).Info["info"], &info)
		if info.Pid == 0 || info.SandboxID != pod {
			t.Errorf("verbose info = %+v", info)
		}
		if err := syscall.Kill(info.Pid, 0); err != nil {
			t.Errorf("process %d: %v", info.Pid, err)
		}
		if _, err := d.Runtime.StartContainer(ctxBG(t), &runtimeapi.StartContainerRequest{ContainerId: id}); status.Code(err) != codes.FailedPrecondition {
			t.Errorf("second StartContainer: %v, want FailedPrecondition", err)
		}

		// List filters.
		list := func(f *runtimeapi.ContainerFilter) []string {
			resp, err := d.Runtime.ListContainers(ctxBG(t), &runtimeapi.ListContainersRequest{Filter: f})
			if err != nil {
				t.Fatalf("ListContainers: %v", err)
			}
			var ids []string
			for _, c := range resp.Containers {
				ids = append(ids, c.Id)
			}
			return ids
		}
		running := &runtimeapi.ContainerStateValue{State: runtimeapi.ContainerState_CONTAINER_RUNNING}
		exited := &runtimeapi.ContainerStateValue{State: runtimeapi.ContainerState_CONTAINER_EXITED}
		for name, f := range map[string]*runtimeapi.ContainerFilter{
			"id prefix":      {Id: id[:10]},
			"sandbox":        {PodSandboxId: pod},
			"sandbox prefix": {PodSandboxId: pod[:10], State: running},
			"labels":         {LabelSelector: map[string]string{"tier": "web", "ctr": cfg.Metadata.Name}},
		} {
			if got := list(f); len(got) != 1 || got[0] != id {
				t.Errorf("ListContainers by %s = %v, want [%s]", name, got, id)
			}
		}
		if got := list(&runtimeapi.ContainerFilter{Id: id, State: exited}); len(got) != 0 {
			t.Errorf("ListContainers of exited = %v, want none", got)
		}

		start := time.Now()
		if _, err := d.Runtime.StopContainer(ctxBG(t), &runtimeapi.StopContainerRequest{ContainerId: id, Timeout: 10}); err != nil {
			t.Fatalf("StopContainer: %v", err)
		}
		if took := time.Since(start); took > 5*time.Second {
			t.Errorf("stopping a container that obeys SIGTERM took %v", took)
		}
		st = ctrStatus(t, d, id).Status
		if st.State != runtimeapi.ContainerState_CONTAINER_EXITED || st.ExitCode != 128+int32(syscall.SIGTERM) || st.FinishedAt < st.StartedAt || st.Reason != "Error" {
			t.Errorf("after stop: state %v exit %d finished %d reason %q", st.State, st.ExitCode, st.FinishedAt, st.Reason)
		}
		if got := list(&runtimeapi.ContainerFilter{State: exited, PodSandboxId: pod}); len(got) != 1 {
			t.Errorf("exited container not listed: %v", got)
		}
		if _, err := d.Runtime.StopContainer(ctxBG(t), &runtimeapi.StopContainerRequest{ContainerId: id}); err != nil {
			t.Errorf("StopContainer of a stopped container: %v", err)
		}
		if _, err := d.Runtime.RemoveContainer(ctxBG(t), &runtimeapi.RemoveContainerRequest{ContainerId: id}); err != nil {
			t.Fatalf("RemoveContainer: %v", err)
		}
		if _, err := d.Runtime.ContainerStatus(ctxBG(t), &runtimeapi.ContainerStatusRequest{ContainerId: id}); status.Code(err) != codes.NotFound {
			t.Errorf("ContainerStatus after remove: %v, want NotFound", err)
		}
		if _, err := d.Runtime.RemoveContainer(ctxBG(t), &runtimeapi.RemoveContainerRequest{ContainerId: id}); err != nil {
			t.Errorf("RemoveContainer of a removed container: %v", err)
		}
	})

	t.Run("NameIsReserved", func(t *testing.T) {
		pod, podCfg := runPod(t, d)
		cfg := ctrConfig(image)
		createContainer(t, d, pod, podCfg, cfg)
		_, err := d.Runtime.CreateContainer(ctxBG(t), &runtimeapi.CreateContainerRequest{PodSandboxId: pod, Config: cfg, SandboxConfig: podCfg})
		if status.Code(err) != codes.AlreadyExists {
			t.Errorf("second CreateContainer with the same name: %v, want AlreadyExists", err)
		}
		cfg.Image.Image = "sha256:0000000000000000000000000000000000000000000000000000000000000000"
		cfg.Metadata.Attempt = 1
		_, err = d.Runtime.CreateContainer(ctxBG(t), &runtimeapi.CreateContainerRequest{PodSandboxId: pod, Config: cfg, SandboxConfig: podCfg})
		if status.Code(err) != codes.NotFound {
			t.Errorf("CreateContainer with an unknown image: %v, want NotFound", err)
		}
	})

	t.Run("ExitCodes", func(t *testing.T) {
		pod, podCfg := runPod(t, d)
		ok := runContainer(t, d, pod, podCfg, ctrConfig(image, withShell("exit 0")))
		bad := runContainer(t, d, pod, podCfg, ctrConfig(image, withShell("exit 3")))
		if st := waitExited(t, d, ok, 20*time.Second); st.ExitCode != 0 || st.Reason != "Completed" {
			t.Errorf("exit 0: code %d reason %q", st.ExitCode, st.Reason)
		}
		if st := waitExited(t, d, bad, 20*time.Second); st.ExitCode != 3 || st.Reason != "Error" {
			t.Errorf("exit 3: code %d reason %q", st.ExitCode, st.Reason)
		}
	})

	t.Run("OOMKilled", func(t *testing.T) {
		pod, podCfg := runPod(t, d)
		// tail keeps its last ten lines; /dev/zero has no newline, so the
		// one line grows until the memory limit stops it.
		id := runContainer(t, d, pod, podCfg, ctrConfig(image, withCommand("tail", "/dev/zero"),
			withResources(&runtimeapi.LinuxContainerResources{MemoryLimitInBytes: 32 << 20, MemorySwapLimitInBytes: 32 << 20})))
		st := waitExited(t, d, id, 60*time.Second)
		if st.Reason != "OOMKilled" || st.ExitCode != 137 {
			t.Errorf("exit code %d reason %q, want 137 OOMKilled", st.ExitCode, st.Reason)
		}
	})

	t.Run("StopTimeoutKills", func(t *testing.T) {
		pod, podCfg := runPod(t, d)
		id := runContainer(t, d, pod, podCfg, ctrConfig(image, withShell(`trap "" TERM; touch /tmp/trapped; while true; do sleep 1; done`)))
		d.WaitFor("the trap to be set", 10*time.Second, func() bool {
			resp, err := execSync(t, d, id, 5, "test", "-e", "/tmp/trapped")
			return err == nil && resp.ExitCode == 0
		})
		start := time.Now()
		if _, err := d.Runtime.StopContainer(ctxBG(t), &runtimeapi.StopContainerRequest{ContainerId: id, Timeout: 2}); err != nil {
			t.Fatalf("StopContainer: %v", err)
		}
		took := time.Since(start)
		st := ctrStatus(t, d, id).Status
		if took < 2*time.Second || took > 10*time.Second || st.State != runtimeapi.ContainerState_CONTAINER_EXITED || st.ExitCode != 137 {
			t.Errorf("stop took %v, state %v, exit code %d; want 2s..10s, EXITED, 137", took, st.State, st.ExitCode)
		}
	})

	t.Run("Mounts", func(t *testing.T) {
		pod, podCfg := runPod(t, d)
		ro, rw := t.TempDir(), t.TempDir()
		if err := os.WriteFile(filepath.Join(ro, "greeting"), []byte("hello from the host\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		hosts := filepath.Join(t.TempDir(), "hosts")
		if err := os.WriteFile(hosts, []byte("10.1.2.3 kubelet-managed\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		missing := filepath.Join(t.TempDir(), "created", "by", "runtime")
		id := runContainer(t, d, pod, podCfg, ctrConfig(image,
			withMount(&runtimeapi.Mount{ContainerPath: "/ro", HostPath: ro, Readonly: true}),
			withMount(&runtimeapi.Mount{ContainerPath: "/rw", HostPath: rw, Propagation: runtimeapi.MountPropagation_PROPAGATION_HOST_TO_CONTAINER}),
			withMount(&runtimeapi.Mount{ContainerPath: "/etc/hosts", HostPath: hosts}),
			withMount(&runtimeapi.Mount{ContainerPath: "/new", HostPath: missing}),
		))
		if got := mustExec(t, d, id, "cat", "/ro/greeting"); got != "hello from the host" {
			t.Errorf("read-only mount reads %q", got)
		}
		if resp, err := execSync(t, d, id, 10, "touch", "/ro/x"); err != nil || resp.ExitCode == 0 {
			t.Errorf("writing a read-only mount: %v, exit %d", err, resp.GetExitCode())
		}
		mustExec(t, d, id, "sh", "-c", "echo written > /rw/out")
		if data, err := os.ReadFile(filepath.Join(rw, "out")); err != nil || string(data) != "written\n" {
			t.Errorf("read-write mount: host sees %q, %v", data, err)
		}
		if got := mustExec(t, d, id, "cat", "/etc/hosts"); got != "10.1.2.3 kubelet-managed" {
			t.Errorf("kubelet's /etc/hosts not honoured: %q", got)
		}
		if got := mustExec(t, d, id, "hostname"); got != podCfg.Hostname {
			t.Errorf("hostname = %q, want the pod's %q", got, podCfg.Hostname)
		}
		if got := mustExec(t, d, id, "cat", "/etc/hostname"); got != podCfg.Hostname {
			t.Errorf("/etc/hostname = %q, want %q", got, podCfg.Hostname)
		}
		if _, err := os.Stat(missing); err != nil {
			t.Errorf("missing host path was not created: %v", err)
		}
		mustExec(t, d, id, "sh", "-c", "echo shared > /dev/shm/x")
		if out := mustExec(t, d, id, "sh", "-c", "grep ' /rw ' /proc/self/mountinfo"); !strings.Contains(out, "master:") && !strings.Contains(out, "shared:") {
			t.Logf("rslave mount has no propagation tag (host source is private): %s", out)
		}
	})

	t.Run("ImageVolumes", func(t *testing.T) {
		pod, podCfg := runPod(t, d)
		vol := func(path, sub string, readonly bool) CtrOption {
			return withMount(&runtimeapi.Mount{ContainerPath: path, Readonly: readonly, ImageSubPath: sub,
				Image: &runtimeapi.ImageSpec{Image: image, UserSpecifiedImage: busyboxRef}})
		}
		id := runContainer(t, d, pod, podCfg, ctrConfig(image, vol("/img", "", true), vol("/etc-of-img", "etc", true)))
		if got := mustExec(t, d, id, "/img/bin/ls", "/img/bin/sh"); got != "/img/bin/sh" {
			t.Errorf("image volume content: %q", got)
		}
		if got := mustExec(t, d, id, "ls", "/etc-of-img/passwd"); got != "/etc-of-img/passwd" {
			t.Errorf("image volume sub path content: %q", got)
		}
		if resp, err := execSync(t, d, id, 10, "touch", "/img/x"); err != nil || resp.ExitCode == 0 {
			t.Errorf("an image volume is writable: %v", err)
		}
		refs := 0
		for _, m := range ctrStatus(t, d, id).Status.Mounts {
			if m.GetImage().GetImageRef() == image {
				refs++
			}
		}
		if refs != 2 {
			t.Errorf("ContainerStatus mounts report the image ref of %d image volumes, want 2", refs)
		}
		for name, opt := range map[string]CtrOption{"writable": vol("/img", "", false), "missing sub path": vol("/img", "no-such-dir", true)} {
			cfg := ctrConfig(image, opt)
			if _, err := d.Runtime.CreateContainer(ctxBG(t), &runtimeapi.CreateContainerRequest{PodSandboxId: pod, Config: cfg, SandboxConfig: podCfg}); status.Code(err) != codes.InvalidArgument {
				t.Errorf("%s image volume: %v, want InvalidArgument", name, err)
			}
		}
		if _, err := d.Runtime.RemoveContainer(ctxBG(t), &runtimeapi.RemoveContainerRequest{ContainerId: id}); err != nil {
			t.Fatal(err)
		}
		if m := harness.MountsUnder(filepath.Join(d.State, "containers")); len(m) > 0 {
			t.Errorf("image volume mounts left after RemoveContainer: %v", m)
		}
	})

	t.Run("UserAndSecurity", func(t *testing.T) {
		pod, podCfg := runPod(t, d)
		id := runContainer(t, d, pod, podCfg, ctrConfig(image, withSecurity(func(sc *runtimeapi.LinuxContainerSecurityContext) {
			sc.RunAsUser = &runtimeapi.Int64Value{Value: 1234}
			sc.RunAsGroup = &runtimeapi.Int64Value{Value: 5678}
			sc.SupplementalGroups = []int64{4242}
			sc.NoNewPrivs = true
			sc.ReadonlyRootfs = true
			sc.Capabilities = &runtimeapi.Capability{DropCapabilities: []string{"ALL"}, AddCapabilities: []string{"NET_RAW"}}
		})))
		if got := mustExec(t, d, id, "id"); !strings.Contains(got, "uid=1234") || !strings.Contains(got, "gid=5678") || !strings.Contains(got, "4242") {
			t.Errorf("id = %q", got)
		}
		u := ctrStatus(t, d, id).Status.User.GetLinux()
		if u.GetUid() != 1234 || u.GetGid() != 5678 || !containsInt(u.GetSupplementalGroups(), 4242) {
			t.Errorf("status user = %v", u)
		}
		status := mustExec(t, d, id, "cat", "/proc/self/status")
		if !strings.Contains(status, "NoNewPrivs:\t1") || !strings.Contains(status, "CapBnd:\t0000000000002000") {
			t.Errorf("no_new_privs or capabilities not applied:\n%s", status)
		}
		if resp, _ := execSync(t, d, id, 10, "touch", "/newfile"); resp.GetExitCode() == 0 {
			t.Errorf("read-only root filesystem is writable")
		}

		named := runContainer(t, d, pod, podCfg, ctrConfig(image, withSecurity(func(sc *runtimeapi.LinuxContainerSecurityContext) {
			sc.RunAsUsername = "nobody"
		})))
		if got := mustExec(t, d, named, "id", "-un"); got != "nobody" {
			t.Errorf("run_as_username nobody: id -un = %q", got)
		}
		// no_new_privs unset: set-user-ID programs must work (the default
		// spec's own no_new_privs must not leak through).
		if got := mustExec(t, d, named, "grep", "NoNewPrivs", "/proc/self/status"); got != "NoNewPrivs:\t0" {
			t.Errorf("no_new_privs unset: %q", got)
		}
	})

	t.Run("PodWithoutHostnameHasTheNodes", func(t *testing.T) {
		// As containerd does: the UTS namespace, /etc/hostname and
		// $HOSTNAME all say the node's name, not nothing.
		node, err := os.Hostname()
		if err != nil {
			t.Fatal(err)
		}
		pod, podCfg := runPod(t, d, func(c *runtimeapi.PodSandboxConfig) { c.Hostname = "" })
		id := runContainer(t, d, pod, podCfg, ctrConfig(image, withShell("sleep 600")))
		for _, cmd := range [][]string{{"hostname"}, {"cat", "/etc/hostname"}, {"sh", "-c", "echo $HOSTNAME"}} {
			if got := mustExec(t, d, id, cmd...); got != node {
				t.Errorf("%v = %q, want the node's %q", cmd, got, node)
			}
		}
	})

	t.Run("RlimitsAreInherited", func(t *testing.T) {
		// Not containerd's default spec's RLIMIT_NOFILE 1024 (soft and
		// hard), which no container could raise: the limit the node gives
		// berthd, through containerd and the shim.
		var want unix.Rlimit
		if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &want); err != nil {
			t.Fatal(err)
		}
		pod, podCfg := runPod(t, d)
		id := runContainer(t, d, pod, podCfg, ctrConfig(image, withShell("sleep 600")))
		limits := mustExec(t, d, id, "cat", "/proc/1/limits")
		var hard string
		for _, line := range strings.Split(limits, "\n") {
			if f := strings.Fields(line); strings.HasPrefix(line, "Max open files") && len(f) >= 5 {
				hard = f[4]
			}
		}
		if hard != strconv.FormatUint(want.Max, 10) {
			t.Errorf("container's hard RLIMIT_NOFILE %q, want berthd's %d:\n%s", hard, want.Max, limits)
		}
	})

	t.Run("ProcMount", func(t *testing.T) {
		pod, podCfg := runPod(t, d)
		// The paths kubelet sends for procMount Default.
		confined := runContainer(t, d, pod, podCfg, ctrConfig(image, withSecurity(func(sc *runtimeapi.LinuxContainerSecurityContext) {
			sc.MaskedPaths = []string{"/proc/kcore", "/proc/keys", "/sys/firmware"}
			sc.ReadonlyPaths = []string{"/proc/sys", "/proc/sysrq-trigger"}
		})))
		// Writing kernel.panic's own value back: harmless if it is
		// writable, which it must not be.
		if resp, _ := execSync(t, d, confined, 10, "sh", "-c", "cat /proc/sys/kernel/panic > /proc/sys/kernel/panic"); resp.GetExitCode() == 0 {
			t.Error("/proc/sys is writable although kubelet sent it read-only")
		}
		if got := mustExec(t, d, confined, "sh", "-c", "grep -c ' /proc/keys ' /proc/self/mountinfo"); got != "1" {
			t.Errorf("/proc/keys is not masked although kubelet asked (mounts over it: %s)", got)
		}
		// procMount Unmasked: kubelet sends no paths, and none are added.
		unmasked := runContainer(t, d, pod, podCfg, ctrConfig(image))
		if got, _ := execSync(t, d, unmasked, 10, "sh", "-c", "grep -E ' /proc/(keys|sys) ' /proc/self/mountinfo"); len(got.GetStdout()) != 0 {
			t.Errorf("paths masked or read-only although none were asked for:\n%s", got.GetStdout())
		}
	})

	t.Run("DevicesAndPrivileged", func(t *testing.T) {
		pod, podCfg := runPod(t, d, func(c *runtimeapi.PodSandboxConfig) { c.Linux.SecurityContext.Privileged = true })
		id := runContainer(t, d, pod, podCfg, ctrConfig(image, func(c *runtimeapi.ContainerConfig) {
			c.Devices = []*runtimeapi.Device{{HostPath: "/dev/null", ContainerPath: "/dev/berth-null", Permissions: "rw"}}
		}))
		mustExec(t, d, id, "sh", "-c", "echo discarded > /dev/berth-null")
		// containerd's default set: CHOWN, DAC_OVERRIDE, FOWNER, FSETID, KILL,
		// SETGID, SETUID, SETPCAP, NET_BIND_SERVICE, NET_RAW, SYS_CHROOT,
		// MKNOD, AUDIT_WRITE, SETFCAP.
		const defaultCaps = "CapBnd:\t00000000a80425fb"
		if got := mustExec(t, d, id, "grep", "CapBnd", "/proc/self/status"); got != defaultCaps {
			t.Errorf("an unprivileged container has %q, want %q", got, defaultCaps)
		}

		priv := runContainer(t, d, pod, podCfg, ctrConfig(image, withSecurity(func(sc *runtimeapi.LinuxContainerSecurityContext) { sc.Privileged = true })))
		if got := mustExec(t, d, priv, "grep", "CapBnd", "/proc/self/status"); got == defaultCaps {
			t.Errorf("a privileged container has the default capabilities: %q", got)
		}
		devices := func(id string) int {
			n, _ := strconv.Atoi(mustExec(t, d, id, "sh", "-c", "ls /dev | wc -l"))
			return n
		}
		if p, u := devices(priv), devices(id); p <= u {
			t.Errorf("a privileged container sees %d device nodes, an unprivileged one %d: want the host's", p, u)
		}

		unprivPod, unprivCfg := runPod(t, d)
		cfg := ctrConfig(image, withSecurity(func(sc *runtimeapi.LinuxContainerSecurityContext) { sc.Privileged = true }))
		if _, err := d.Runtime.CreateContainer(ctxBG(t), &runtimeapi.CreateContainerRequest{PodSandboxId: unprivPod, Config: cfg, SandboxConfig: unprivCfg}); status.Code(err) != codes.InvalidArgument {
			t.Errorf("privileged container in an unprivileged pod: %v, want InvalidArgument", err)
		}
	})

	t.Run("Logs", func(t *testing.T) {
		logDir := t.TempDir()
		pod, podCfg := runPod(t, d, withLogDir(logDir))
		long := strings.Repeat("x", 20000)
		id := runContainer(t, d, pod, podCfg, ctrConfig(image, withShell(
			`echo out; echo err >&2; printf '%s\n' "`+long+`"; i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.2; done`)))
		path := ctrStatus(t, d, id).Status.LogPath
		var lines []string
		d.WaitFor("log lines", 20*time.Second, func() bool {
			lines = readLines(path)
			return len(lines) >= 5
		})
		re := regexp.MustCompile(`^(\S+) (stdout|stderr) ([PF]) (.*)$`)
		// A partial (P) line is continued by the next line of its own
		// stream: the other stream's lines may come between, as they do
		// for kubelet's reader.
		var joined []string
		partial := map[string]string{}
		for _, l := range lines {
			m := re.FindStringSubmatch(l)
			if m == nil {
				t.Fatalf("log line %q is not in CRI format", l)
			}
			if _, err := time.Parse(time.RFC3339Nano, m[1]); err != nil {
				t.Errorf("timestamp %q: %v", m[1], err)
			}
			partial[m[2]] += m[4]
			if m[3] == "P" {
				if len(m[4]) != 16*1024 {
					t.Errorf("partial line of %d bytes, want 16 KiB", len(m[4]))
				}
				continue
			}
			joined = append(joined, m[2]+":"+partial[m[2]])
			partial[m[2]] = ""
		}
		// The two streams come through separate pipes: only the order
		// within each is defined.
		var stdout, stderr []string
		for _, e := range joined {
			if s, ok := strings.CutPrefix(e, "stderr:"); ok {
				stderr = append(stderr, s)
			} else {
				stdout = append(stdout, strings.TrimPrefix(e, "stdout:"))
			}
		}
		if len(stderr) != 1 || stderr[0] != "err" {
			t.Errorf("stderr entries = %q, want [err]", stderr)
		}
		want := []string{"out", long, "tick 0"}
		for i, w := range want {
			if i >= len(stdout) || stdout[i] != w {
				if len(w) > 40 {
					w = w[:40] + "..."
				}
				t.Errorf("stdout entry %d = %.60q, want %q", i, at(stdout, i), w)
			}
		}

		// Rotation: kubelet renames the file, then asks for a new one.
		if err := os.Rename(path, path+".1"); err != nil {
			t.Fatal(err)
		}
		if _, err := d.Runtime.ReopenContainerLog(ctxBG(t), &runtimeapi.ReopenContainerLogRequest{ContainerId: id}); err != nil {
			t.Fatalf("ReopenContainerLog: %v", err)
		}
		d.WaitFor("lines in the reopened log", 10*time.Second, func() bool {
			l := readLines(path)
			return len(l) > 0 && strings.Contains(l[0], " stdout F tick ")
		})
		if _, err := d.Runtime.StopContainer(ctxBG(t), &runtimeapi.StopContainerRequest{ContainerId: id}); err != nil {
			t.Fatal(err)
		}
		if _, err := d.Runtime.ReopenContainerLog(ctxBG(t), &runtimeapi.ReopenContainerLogRequest{ContainerId: id}); status.Code(err) != codes.FailedPrecondition {
			t.Errorf("ReopenContainerLog of a stopped container: %v, want FailedPrecondition", err)
		}
	})

	t.Run("ExecSync", func(t *testing.T) {
		pod, podCfg := runPod(t, d)
		id := runContainer(t, d, pod, podCfg, ctrConfig(image, withCommand("sleep", "3600")))
		resp, err := execSync(t, d, id, 10, "sh", "-c", "echo hi; echo oops >&2; exit 7")
		if err != nil || string(resp.Stdout) != "hi\n" || string(resp.Stderr) != "oops\n" || resp.ExitCode != 7 {
			t.Errorf("ExecSync = %q, %q, %d, %v", resp.GetStdout(), resp.GetStderr(), resp.GetExitCode(), err)
		}

		start := time.Now()
		_, err = execSync(t, d, id, 1, "sleep", "30")
		if took := time.Since(start); status.Code(err) != codes.DeadlineExceeded || took > 5*time.Second {
			t.Errorf("ExecSync past its timeout: %v after %v, want DeadlineExceeded within 5s", err, took)
		}
		if ps := mustExec(t, d, id, "ps"); strings.Contains(ps, "sleep 30") {
			t.Errorf("timed-out command still runs:\n%s", ps)
		}
		// A background child holding stdout must not hold the answer.
		start = time.Now()
		if resp, err := execSync(t, d, id, 10, "sh", "-c", "sleep 30 & echo started"); err != nil || !strings.Contains(string(resp.Stdout), "started") || time.Since(start) > 8*time.Second {
			t.Errorf("ExecSync with a background child: %v after %v", err, time.Since(start))
		}

		big := bigClient(t, d)
		ctx, cancel := ctxTimeout(60 * time.Second)
		defer cancel()
		resp, err = big.ExecSync(ctx, &runtimeapi.ExecSyncRequest{ContainerId: id, Cmd: []string{"sh", "-c", "head -c 20000000 /dev/zero; head -c 100 /dev/zero >&2"}, Timeout: 30})
		if err != nil || len(resp.Stdout) != 16<<20 || len(resp.Stderr) != 100 || resp.ExitCode != 0 {
			t.Errorf("ExecSync of 20 MB: stdout %d bytes, stderr %d, exit %d, %v; want stdout capped at 16 MiB", len(resp.GetStdout()), len(resp.GetStderr()), resp.GetExitCode(), err)
		}

		exitedID := runContainer(t, d, pod, podCfg, ctrConfig(image, withShell("exit 0")))
		waitExited(t, d, exitedID, 20*time.Second)
		if _, err := execSync(t, d, exitedID, 5, "true"); status.Code(err) != codes.FailedPrecondition {
			t.Errorf("ExecSync in an exited container: %v, want FailedPrecondition", err)
		}
	})

	t.Run("UpdateResources", func(t *testing.T) {
		pod, podCfg := runPod(t, d)
		id := runContainer(t, d, pod, podCfg, ctrConfig(image, withResources(&runtimeapi.LinuxContainerResources{
			CpuShares: 512, CpuQuota: 20000, CpuPeriod: 100000, MemoryLimitInBytes: 256 << 20,
		})))
		if got := cgroupFile(t, d, id, "memory", "memory.limit_in_bytes"); got != strconv.Itoa(256<<20) {
			t.Errorf("memory limit at start = %s", got)
		}
		if got := cgroupFile(t, d, id, "cpu", "cpu.shares"); got != "512" {
			t.Errorf("cpu shares at start = %s", got)
		}
		const limitInside = "/sys/fs/cgroup/memory/memory.limit_in_bytes"
		if got := mustExec(t, d, id, "cat", limitInside); got != strconv.Itoa(256<<20) {
			t.Errorf("memory limit seen by an exec at start = %s", got)
		}
		_, err := d.Runtime.UpdateContainerResources(ctxBG(t), &runtimeapi.UpdateContainerResourcesRequest{ContainerId: id, Linux: &runtimeapi.LinuxContainerResources{
			CpuQuota: 50000, MemoryLimitInBytes: 128 << 20,
		}})
		if err != nil {
			t.Fatalf("UpdateContainerResources: %v", err)
		}
		if got := cgroupFile(t, d, id, "memory", "memory.limit_in_bytes"); got != strconv.Itoa(128<<20) {
			t.Errorf("memory limit after update = %s", got)
		}
		if got := cgroupFile(t, d, id, "cpu", "cpu.cfs_quota_us"); got != "50000" {
			t.Errorf("cpu quota after update = %s", got)
		}
		if got := cgroupFile(t, d, id, "cpu", "cpu.shares"); got != "512" {
			t.Errorf("cpu shares after update = %s, want the unchanged 512", got)
		}
		if got := mustExec(t, d, id, "cat", limitInside); got != strconv.Itoa(128<<20) {
			t.Errorf("memory limit seen by an exec after update = %s", got)
		}
		r := ctrStatus(t, d, id).Status.Resources.GetLinux()
		if r.GetMemoryLimitInBytes() != 128<<20 || r.GetCpuQuota() != 50000 || r.GetCpuShares() != 512 {
			t.Errorf("status resources = %v", r)
		}
		if _, err := d.Runtime.UpdatePodSandboxResources(ctxBG(t), &runtimeapi.UpdatePodSandboxResourcesRequest{PodSandboxId: pod}); err != nil {
			t.Errorf("UpdatePodSandboxResources: %v", err)
		}
	})

	t.Run("PodCgroupParentAndPIDNamespace", func(t *testing.T) {
		parent := "/berthtest-pod" + strconv.Itoa(os.Getpid())
		// kubelet creates a pod's cgroup and removes it after the pod:
		// here the test is kubelet. Registered first, so it runs after
		// the pod's removal.
		t.Cleanup(func() { removeCgroup(t, parent) })
		pod, podCfg := runPod(t, d, func(c *runtimeapi.PodSandboxConfig) { c.Linux.CgroupParent = parent })
		id := runContainer(t, d, pod, podCfg, ctrConfig(image, withSecurity(func(sc *runtimeapi.LinuxContainerSecurityContext) {
			sc.NamespaceOptions.Pid = runtimeapi.NamespaceMode_POD
		})))
		var info struct {
			CgroupsPath string `json:"cgroupsPath"`
		}
		decodeInfo(t, ctrStatus(t, d, id).Info["info"], &info)
		if !strings.HasPrefix(info.CgroupsPath, parent+"/") {
			t.Errorf("cgroups path %q is not under the pod's %q", info.CgroupsPath, parent)
		}
		// In the pod's PID namespace the pause process is PID 1.
		if got := mustExec(t, d, id, "cat", "/proc/1/cmdline"); !strings.Contains(got, "pause") {
			t.Errorf("PID 1 in a POD PID namespace runs %q, want pause", got)
		}
	})

	t.Run("RemovingSandboxRemovesContainers", func(t *testing.T) {
		cfg := podConfig()
		resp, err := d.Runtime.RunPodSandbox(ctxBG(t), &runtimeapi.RunPodSandboxRequest{Config: cfg})
		if err != nil {
			t.Fatal(err)
		}
		pod := resp.PodSandboxId
		// Containers' snapshots are made under the pod's containerd lease;
		// one deleted by hand is made again.
		client := containerdOf(t, d)
		if err := client.LeasesService().Delete(ctxBG(t), leases.Lease{ID: "berth-sandbox-" + pod}); err != nil {
			t.Fatalf("delete the pod's lease: %v", err)
		}
		ctr, err := d.Runtime.CreateContainer(ctxBG(t), &runtimeapi.CreateContainerRequest{PodSandboxId: pod, Config: ctrConfig(image), SandboxConfig: cfg})
		if err != nil {
			t.Fatalf("CreateContainer in a pod whose lease was deleted: %v", err)
		}
		if _, err := d.Runtime.StartContainer(ctxBG(t), &runtimeapi.StartContainerRequest{ContainerId: ctr.ContainerId}); err != nil {
			t.Fatal(err)
		}
		var info struct {
			Pid int `json:"pid"`
		}
		decodeInfo(t, ctrStatus(t, d, ctr.ContainerId).Info["info"], &info)
		start := time.Now()
		if _, err := d.Runtime.StopPodSandbox(ctxBG(t), &runtimeapi.StopPodSandboxRequest{PodSandboxId: pod}); err != nil {
			t.Fatalf("StopPodSandbox: %v", err)
		}
		if took := time.Since(start); took > 10*time.Second {
			t.Errorf("StopPodSandbox with a running container took %v", took)
		}
		if st := ctrStatus(t, d, ctr.ContainerId).Status; st.State != runtimeapi.ContainerState_CONTAINER_EXITED {
			t.Errorf("container after StopPodSandbox: %v", st.State)
		}
		if err := syscall.Kill(info.Pid, 0); err == nil {
			t.Errorf("container process %d survived StopPodSandbox", info.Pid)
		}
		if _, err := d.Runtime.RemovePodSandbox(ctxBG(t), &runtimeapi.RemovePodSandboxRequest{PodSandboxId: pod}); err != nil {
			t.Fatalf("RemovePodSandbox: %v", err)
		}
		if _, err := d.Runtime.ContainerStatus(ctxBG(t), &runtimeapi.ContainerStatusRequest{ContainerId: ctr.ContainerId}); status.Code(err) != codes.NotFound {
			t.Errorf("container after RemovePodSandbox: %v, want NotFound", err)
		}
		// Nothing of the container stays on the node: its state directory
		// (fifos) and its cgroup.
		if _, err := os.Stat(filepath.Join(d.State, "containers", ctr.ContainerId)); !os.IsNotExist(err) {
			t.Errorf("state directory of a removed container: %v", err)
		}
		if _, err := os.Stat(filepath.Join("/sys/fs/cgroup/memory/berth", ctr.ContainerId)); !os.IsNotExist(err) {
			t.Errorf("memory cgroup of a removed container: %v", err)
		}
		if _, err := client.SnapshotService("overlayfs").Stat(ctxBG(t), ctr.ContainerId); !errdefs.IsNotFound(err) {
			t.Errorf("rootfs snapshot of a removed container: %v, want NotFound", err)
		}
		if left := containerdLeftovers(t, d, []string{pod}); len(left) > 0 {
			t.Errorf("containerd still holds %v", left)
		}
	})

	t.Run("Crictl", func(t *testing.T) {
		crictl := filepath.Join(harness.BinDir(), "crictl")
		if _, err := os.Stat(crictl); err != nil {
			t.Skip("crictl is not in _output/bin (hack/deps.sh)")
		}
		dir := t.TempDir()
		run := func(args ...string) string {
			t.Helper()
			cmd := exec.Command(crictl, append([]string{"--runtime-endpoint", "unix://" + d.Socket, "--image-endpoint", "unix://" + d.Socket, "--timeout", "60s"}, args...)...)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("crictl %v: %v\n%s", args, err, stderr.String())
			}
			return strings.TrimSpace(string(out))
		}
		podJSON := filepath.Join(dir, "pod.json")
		ctrJSON := filepath.Join(dir, "ctr.json")
		if err := writeFile(podJSON, []byte(`{"metadata":{"name":"crictl-pod","namespace":"berth-test","uid":"crictl-uid-`+strconv.Itoa(os.Getpid())+`"},"log_directory":"`+dir+`/logs","linux":{}}`)); err != nil {
			t.Fatal(err)
		}
		if err := writeFile(ctrJSON, []byte(`{"metadata":{"name":"talker"},"image":{"image":"`+busyboxRef+`"},"command":["sh","-c","echo hello from crictl; sleep 3600"],"log_path":"talker.log","linux":{}}`)); err != nil {
			t.Fatal(err)
		}
		pod := run("runp", podJSON)
		t.Cleanup(func() { removePod(t, d, pod) })
		ctr := run("create", pod, ctrJSON, podJSON)
		run("start", ctr)
		if ps := run("ps", "-q", "--pod", pod); ps != ctr {
			t.Errorf("crictl ps -q = %q, want %q", ps, ctr)
		}
		if out := run("inspect", "-o", "go-template", "--template", "{{.status.state}}", ctr); out != "CONTAINER_RUNNING" {
			t.Errorf("crictl inspect state = %q", out)
		}
		d.WaitFor("crictl logs", 10*time.Second, func() bool { return run("logs", ctr) == "hello from crictl" })
		if out := run("exec", "-s", ctr, "echo", "exec works"); out != "exec works" {
			t.Errorf("crictl exec -s = %q", out)
		}
		run("update", "--memory", "67108864", ctr)
		if got := cgroupFile(t, d, ctr, "memory", "memory.limit_in_bytes"); got != "67108864" {
			t.Errorf("crictl update --memory 64Mi: the container's memory limit is %q", got)
		}
		run("stop", "-t", "1", ctr)
		run("rm", ctr)
		if ps := run("ps", "-a", "-q", "--pod", pod); ps != "" {
			t.Errorf("crictl ps -a after rm = %q", ps)
		}
	})
}

func ctxBG(t *testing.T) contextT {
	ctx, cancel := ctxTimeout(60 * time.Second)
	t.Cleanup(cancel)
	return ctx
}

func readLines(path string) []string {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var lines []string
	s := bufio.NewScanner(f)
	s.Buffer(make([]byte, 64<<10), 1<<20)
	for s.Scan() {
		lines = append(lines, s.Text())
	}
	return lines
}

func at(s []string, i int) string {
	if i < len(s) {
		return s[i]
	}
	return ""
}

func containsInt(s []int64, v int64) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// TestContainerSurvivesBerthdRestart restarts berthd (and its containerd)
// under containers in every state: kubelet must find each as it left it,
// a running one still logging, and one that exited while berthd was away
// with its exit code.
func TestContainerSurvivesBerthdRestart(t *testing.T) {
	d, image := startWithBusybox(t)
	logDir, trigger := t.TempDir(), t.TempDir()
	pod, podCfg := runPod(t, d, withLogDir(logDir))
	running := runContainer(t, d, pod, podCfg, ctrConfig(image, withShell(`i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.2; done`)))
	exited := runContainer(t, d, pod, podCfg, ctrConfig(image, withShell("exit 3")))
	exitsWhileAway := runContainer(t, d, pod, podCfg, ctrConfig(image,
		withMount(&runtimeapi.Mount{ContainerPath: "/trigger", HostPath: trigger}),
		withShell(`while [ ! -e /trigger/go ]; do sleep 0.1; done; exit 5`)))
	created := createContainer(t, d, pod, podCfg, ctrConfig(image))
	before := waitExited(t, d, exited, 20*time.Second)
	pid := ctrStatus(t, d, running).Status
	var info struct {
		Pid int `json:"pid"`
	}
	decodeInfo(t, ctrStatus(t, d, running).Info["info"], &info)

	if err := d.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(trigger, "go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	d.Restart()

	st := ctrStatus(t, d, running)
	var after struct {
		Pid int `json:"pid"`
	}
	decodeInfo(t, st.Info["info"], &after)
	if st.Status.State != runtimeapi.ContainerState_CONTAINER_RUNNING || after.Pid != info.Pid || st.Status.StartedAt != pid.StartedAt {
		t.Errorf("running container after restart: %v pid %d started %d; want RUNNING pid %d started %d", st.Status.State, after.Pid, st.Status.StartedAt, info.Pid, pid.StartedAt)
	}
	if got := mustExec(t, d, running, "echo", "still there"); got != "still there" {
		t.Errorf("exec after restart = %q", got)
	}
	path := st.Status.LogPath
	n := len(readLines(path))
	d.WaitFor("log lines written after the restart", 10*time.Second, func() bool { return len(readLines(path)) > n+3 })

	if st := ctrStatus(t, d, exited).Status; st.State != runtimeapi.ContainerState_CONTAINER_EXITED || st.ExitCode != 3 || st.FinishedAt != before.FinishedAt || st.Reason != "Error" {
		t.Errorf("exited container after restart: %v code %d finished %d reason %q; want EXITED 3 %d Error", st.State, st.ExitCode, st.FinishedAt, st.Reason, before.FinishedAt)
	}
	// containerd, restarted with berthd, deletes the tasks of shims with no
	// process left before anyone can read their exit code (its shim_load.go,
	// containerd#6860); then the exit is known, its code is not. containerd's
	// CRI reports the same.
	if st := ctrStatus(t, d, exitsWhileAway).Status; st.State != runtimeapi.ContainerState_CONTAINER_EXITED || st.FinishedAt == 0 ||
		(st.ExitCode != 5 && (st.ExitCode != 255 || st.Reason != "Unknown")) {
		t.Errorf("container that exited while berthd was away: %v code %d reason %q finished %d; want EXITED with code 5, or 255 Unknown", st.State, st.ExitCode, st.Reason, st.FinishedAt)
	}
	if st := ctrStatus(t, d, created).Status; st.State != runtimeapi.ContainerState_CONTAINER_CREATED {
		t.Errorf("created container after restart: %v", st.State)
	}
	startContainer(t, d, created)
	_, err := d.Runtime.CreateContainer(ctxBG(t), &runtimeapi.CreateContainerRequest{PodSandboxId: pod, Config: ctrConfig(image, func(c *runtimeapi.ContainerConfig) {
		c.Metadata.Name = ctrStatus(t, d, created).Status.Metadata.Name
	}), SandboxConfig: podCfg})
	if status.Code(err) != codes.AlreadyExists {
		t.Errorf("a recovered container's name is free again: %v", err)
	}

	// After a crash, berthd adopts the containerd the killed berthd left
	// running, so a container that exited meanwhile keeps its exit code.
	exitsWhileCrashed := runContainer(t, d, pod, podCfg, ctrConfig(image,
		withMount(&runtimeapi.Mount{ContainerPath: "/trigger", HostPath: trigger}),
		withShell(`while [ ! -e /trigger/crash ]; do sleep 0.1; done; exit 7`)))
	pidOfBerthd := d.PID()
	if err := syscall.Kill(pidOfBerthd, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 100 && syscall.Kill(pidOfBerthd, 0) == nil; i++ {
		time.Sleep(50 * time.Millisecond) // until the harness reaps it
	}
	if err := os.WriteFile(filepath.Join(trigger, "crash"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	d.KillAndRestart() // berthd is dead already: this only starts it
	if st := ctrStatus(t, d, exitsWhileCrashed).Status; st.State != runtimeapi.ContainerState_CONTAINER_EXITED || st.ExitCode != 7 {
		t.Errorf("container that exited while berthd was killed: %v code %d reason %q; want EXITED with code 7", st.State, st.ExitCode, st.Reason)
	}
	if st := ctrStatus(t, d, running).Status; st.State != runtimeapi.ContainerState_CONTAINER_RUNNING {
		t.Errorf("running container after a crash and restart: %v", st.State)
	}

	if _, err := d.Runtime.StopContainer(ctxBG(t), &runtimeapi.StopContainerRequest{ContainerId: running, Timeout: 10}); err != nil {
		t.Fatalf("StopContainer after restart: %v", err)
	}
	if st := ctrStatus(t, d, running).Status; st.State != runtimeapi.ContainerState_CONTAINER_EXITED || st.ExitCode != 143 {
		t.Errorf("stopped after restart: %v code %d", st.State, st.ExitCode)
	}
}

// removeCgroup removes the cgroup path from every hierarchy, the innermost
// directories first (on cgroup v1 each controller has its own tree).
func removeCgroup(t *testing.T, path string) {
	t.Helper()
	roots, _ := filepath.Glob("/sys/fs/cgroup/*")
	roots = append(roots, "/sys/fs/cgroup")
	for _, root := range roots {
		dir := filepath.Join(root, path)
		if _, err := os.Stat(dir); err != nil {
			continue
		}
		var dirs []string
		_ = filepath.WalkDir(dir, func(p string, e os.DirEntry, err error) error { // the callback fails nothing
			if err == nil && e.IsDir() {
				dirs = append(dirs, p)
			}
			return nil
		})
		for i := len(dirs) - 1; i >= 0; i-- {
			if err := os.Remove(dirs[i]); err != nil {
				t.Errorf("remove the pod's cgroup %s: %v", dirs[i], err)
			}
		}
	}
}
