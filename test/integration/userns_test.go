package integration

import (
	"fmt"
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

// usernsHostID is where the test pods' IDs start on the node: kubelet
// gives each pod a range of 65536 from 65536 up.
const usernsHostID, usernsLength = 200000, 65536

const nginxRef = "registry.k8s.io/e2e-test-images/nginx:1.14-2"

func podMapping() []*runtimeapi.IDMapping {
	return []*runtimeapi.IDMapping{{ContainerId: 0, HostId: usernsHostID, Length: usernsLength}}
}

func withUserNS(u *runtimeapi.UserNamespace) PodOption {
	return func(c *runtimeapi.PodSandboxConfig) { c.Linux.SecurityContext.NamespaceOptions.UsernsOptions = u }
}

func podUserNS() *runtimeapi.UserNamespace {
	return &runtimeapi.UserNamespace{Mode: runtimeapi.NamespaceMode_POD, Uids: podMapping(), Gids: podMapping()}
}

func TestUserNamespacePod(t *testing.T) {
	d, image := startWithBusybox(t)
	ctx, cancel := ctxTimeout(10 * time.Second)
	defer cancel()
	st, err := d.Runtime.Status(ctx, &runtimeapi.StatusRequest{})
	if err != nil {
		t.Fatalf("Status: %v", err)
	}
	for _, h := range st.GetRuntimeHandlers() {
		if h.GetName() == harness.CrunHandler {
			continue // claims only what its runtime reports (TestRuntimeHandlers)
		}
		if !h.GetFeatures().GetUserNamespaces() {
			t.Errorf("runtime handler %q reports no user namespace support on this kernel", h.GetName())
		}
	}

	// A host directory owned by node root, mounted idmapped and plain.
	vol := t.TempDir()
	if err := os.WriteFile(filepath.Join(vol, "data"), []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	// nginx has several layers (an overlayfs view), busybox one (a bind).
	nginx := mustPull(t, d, nginxRef)
	podID, podCfg := runPod(t, d, withUserNS(podUserNS()))
	if got := podStatus(t, d, podID).GetStatus().GetLinux().GetNamespaces().GetOptions().GetUsernsOptions(); got.GetMode() != runtimeapi.NamespaceMode_POD || len(got.GetUids()) != 1 {
		t.Errorf("PodSandboxStatus user namespace options = %v, want POD with the mapping", got)
	}
	id := runContainer(t, d, podID, podCfg, ctrConfig(image,
		withSecurity(func(sc *runtimeapi.LinuxContainerSecurityContext) { sc.NamespaceOptions.UsernsOptions = podUserNS() }),
		withMount(&runtimeapi.Mount{ContainerPath: "/mapped", HostPath: vol, UidMappings: podMapping(), GidMappings: podMapping()}),
		withMount(&runtimeapi.Mount{ContainerPath: "/plain", HostPath: vol, Readonly: true}),
		withMount(&runtimeapi.Mount{ContainerPath: "/img", Readonly: true, UidMappings: podMapping(), GidMappings: podMapping(),
			Image: &runtimeapi.ImageSpec{Image: image, UserSpecifiedImage: busyboxRef}}),
		withMount(&runtimeapi.Mount{ContainerPath: "/nginx", Readonly: true, UidMappings: podMapping(), GidMappings: podMapping(),
			Image: &runtimeapi.ImageSpec{Image: nginx, UserSpecifiedImage: nginxRef}}),
	))

	want := fmt.Sprintf("0 %d %d", usernsHostID, usernsLength)
	for _, f := range []string{"/proc/self/uid_map", "/proc/self/gid_map"} {
		if got := strings.Join(strings.Fields(mustExec(t, d, id, "cat", f)), " "); got != want {
			t.Errorf("%s in the container = %q, want %q", f, got, want)
		}
	}
	checks := []struct{ what, path, want string }{
		{"a file the image gives to root", "/bin/busybox", "0:0"},
		{"the pod's /etc/hosts", "/etc/hosts", "0:0"},
		{"a file of an idmapped host mount", "/mapped/data", "0:0"},
		{"a root-owned file of a one-layer image volume", "/img/bin/busybox", "0:0"},
		{"a root-owned file of a layered image volume", "/nginx/bin/sh", "0:0"},
		// Not mapped: node root is no one in the pod.
		{"a file of a plain host mount", "/plain/data", "65534:65534"},
	}
	if out := mustExec(t, d, id, "sh", "-c", "grep ' /nginx ' /proc/self/mountinfo"); !strings.Contains(out, " - overlay ") {
		t.Errorf("the layered image volume is not an overlayfs mount: %s", out)
	}
	for _, c := range checks {
		if got := mustExec(t, d, id, "stat", "-c", "%u:%g", c.path); got != c.want {
			t.Errorf("owner of %s (%s) in the container = %s, want %s", c.what, c.path, got, c.want)
		}
	}
	// The pod's root owns its rootfs and the idmapped volume: it can write
	// both. Through the idmapped mount, what it writes lands on the node
	// owned by the ID it sees (0), not by its node UID: the volume's files
	// mean the same to any pod, whatever range it runs in.
	mustExec(t, d, id, "sh", "-c", "echo x > /rootfs-file && echo y > /mapped/new")
	fi, err := os.Stat(filepath.Join(vol, "new"))
	if err != nil {
		t.Fatalf("file the pod wrote into the idmapped mount: %v", err)
	}
	if uid := fi.Sys().(*syscall.Stat_t).Uid; uid != 0 {
		t.Errorf("file the pod's root wrote through the idmapped mount is owned by node UID %d, want 0", uid)
	}
	// Seen from the node, its root is the first mapped UID.
	var info struct {
		Pid uint32 `json:"pid"`
	}
	decodeInfo(t, ctrStatus(t, d, id).Info["info"], &info)
	procStatus, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", info.Pid))
	if err != nil {
		t.Fatalf("container process on the node: %v", err)
	}
	wantUID := fmt.Sprintf("Uid:\t%d\t", usernsHostID)
	if !strings.Contains(string(procStatus), wantUID) {
		t.Errorf("container's root on the node is not UID %d:\n%s", usernsHostID, procStatus)
	}
	if out, err := execSync(t, d, id, 10, "sh", "-c", "echo z > /plain/x"); err != nil || out.ExitCode == 0 {
		t.Errorf("the pod's root wrote into a read-only, unmapped host mount (exit %d, %v)", out.GetExitCode(), err)
	}
}

func TestUserNamespaceInvalidOptions(t *testing.T) {
	d, image := startWithBusybox(t)
	two := []*runtimeapi.IDMapping{{ContainerId: 0, HostId: 1000, Length: 100000}, {ContainerId: 0, HostId: 2000, Length: 100000}}
	noRoot := []*runtimeapi.IDMapping{{ContainerId: 1, HostId: 1000, Length: 100000}}
	pods := []struct {
		name string
		opt  PodOption
	}{
		{"mode CONTAINER", withUserNS(&runtimeapi.UserNamespace{Mode: runtimeapi.NamespaceMode_CONTAINER})},
		{"mode TARGET", withUserNS(&runtimeapi.UserNamespace{Mode: runtimeapi.NamespaceMode_TARGET})},
		{"POD without mappings", withUserNS(&runtimeapi.UserNamespace{Mode: runtimeapi.NamespaceMode_POD})},
		{"more than one mapping", withUserNS(&runtimeapi.UserNamespace{Mode: runtimeapi.NamespaceMode_POD, Uids: two, Gids: two})},
		{"container ID 0 not mapped", withUserNS(&runtimeapi.UserNamespace{Mode: runtimeapi.NamespaceMode_POD, Uids: noRoot, Gids: noRoot})},
		{"NODE with mappings", withUserNS(&runtimeapi.UserNamespace{Mode: runtimeapi.NamespaceMode_NODE, Uids: podMapping(), Gids: podMapping()})},
		{"POD with the node's network", func(c *runtimeapi.PodSandboxConfig) {
			withUserNS(podUserNS())(c)
			withHostNetwork()(c)
		}},
	}
	for _, p := range pods {
		t.Run(p.name, func(t *testing.T) {
			ctx, cancel := ctxTimeout(30 * time.Second)
			defer cancel()
			_, err := d.Runtime.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: podConfig(p.opt)})
			if status.Code(err) != codes.InvalidArgument {
				t.Errorf("RunPodSandbox: %v, want InvalidArgument", err)
			}
		})
	}

	// A container cannot leave its pod's user namespace.
	podID, podCfg := runPod(t, d, withUserNS(podUserNS()))
	{
		other := []*runtimeapi.IDMapping{{ContainerId: 0, HostId: 300000, Length: usernsLength}}
		for name, u := range map[string]*runtimeapi.UserNamespace{
			"other mappings": {Mode: runtimeapi.NamespaceMode_POD, Uids: other, Gids: other},
			"the node's":     {Mode: runtimeapi.NamespaceMode_NODE},
		} {
			ctx, cancel := ctxTimeout(30 * time.Second)
			cfg := ctrConfig(image, withSecurity(func(sc *runtimeapi.LinuxContainerSecurityContext) { sc.NamespaceOptions.UsernsOptions = u }))
			_, err := d.Runtime.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{PodSandboxId: podID, Config: cfg, SandboxConfig: podCfg})
			cancel()
			if status.Code(err) != codes.InvalidArgument {
				t.Errorf("CreateContainer with %s user namespace: %v, want InvalidArgument", name, err)
			}
		}
	}

	// Nothing of the refused pods is left: no sandbox, no namespace pin, no
	// files; and the valid pod's user namespace pin goes with it.
	ctx, cancel := ctxTimeout(10 * time.Second)
	defer cancel()
	list, err := d.Runtime.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{})
	if err != nil {
		t.Fatalf("ListPodSandbox: %v", err)
	}
	if len(list.GetItems()) != 1 || list.GetItems()[0].GetId() != podID {
		t.Errorf("%d sandboxes listed, want only the valid pod", len(list.GetItems()))
	}
	if len(harness.MountsUnder(filepath.Join(d.State, "sandboxes", podID, "userns"))) == 0 {
		t.Errorf("the valid pod's user namespace is not pinned")
	}
	removePod(t, d, podID)
	ids := []string{podID}
	if left := leftovers(t, d, ids, nil); len(left) > 0 {
		t.Errorf("left behind: %v", left)
	}
	entries, _ := os.ReadDir(filepath.Join(d.State, "sandboxes"))
	if len(entries) > 0 {
		t.Errorf("sandbox state directories left: %d", len(entries))
	}
}

// After berthd restarts, a pod with a user namespace still takes new
// containers into it, and its removal still unpins the namespace.
func TestUserNamespacePodAfterRestart(t *testing.T) {
	d, image := startWithBusybox(t)
	podID, podCfg := runPod(t, d, withUserNS(podUserNS()))
	first := runContainer(t, d, podID, podCfg, ctrConfig(image))
	d.Restart()

	second := runContainer(t, d, podID, podCfg, ctrConfig(image))
	want := fmt.Sprintf("0 %d %d", usernsHostID, usernsLength)
	for _, id := range []string{first, second} {
		if got := strings.Join(strings.Fields(mustExec(t, d, id, "cat", "/proc/self/uid_map")), " "); got != want {
			t.Errorf("uid_map of container %s after the restart = %q, want %q", id[:12], got, want)
		}
	}
	// Both containers are in one user namespace, the pod's.
	if a, b := mustExec(t, d, first, "readlink", "/proc/self/ns/user"), mustExec(t, d, second, "readlink", "/proc/self/ns/user"); a != b {
		t.Errorf("containers of one pod are in user namespaces %s and %s", a, b)
	}
	pin := filepath.Join(d.State, "sandboxes", podID, "userns")
	removePod(t, d, podID)
	if m := harness.MountsUnder(pin); len(m) > 0 {
		t.Errorf("user namespace still pinned after RemovePodSandbox: %v", m)
	}
}
