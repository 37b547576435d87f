package netns

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func TestCloneFlagsAreLinuxs(t *testing.T) {
	for _, c := range []struct{ ours, linux int }{
		{cloneNewNet, unix.CLONE_NEWNET}, {cloneNewIPC, unix.CLONE_NEWIPC}, {cloneNewUTS, unix.CLONE_NEWUTS},
	} {
		if c.ours != c.linux {
			t.Errorf("clone flag %#x, Linux's is %#x", c.ours, c.linux)
		}
	}
}

// nsenter runs a command in the namespaces pinned at the given paths, as a
// container joining them would see it.
func nsenter(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("nsenter", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("nsenter %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

func podPins(dir string) Pod {
	return Pod{Net: filepath.Join(dir, "net"), IPC: filepath.Join(dir, "state", "ipc"), UTS: filepath.Join(dir, "state", "uts"), Hostname: "pod-host"}
}

func TestCreatePodPinsNetworkIPCAndUTS(t *testing.T) {
	requireRoot(t)
	p := podPins(t.TempDir())
	if err := CreatePod(p); err != nil {
		t.Fatal(err)
	}
	defer func() {
		for _, path := range []string{p.Net, p.IPC, p.UTS} {
			if err := Remove(path); err != nil {
				t.Error(err)
			}
		}
	}()
	self, _ := os.Hostname()
	if got := nsenter(t, "--uts="+p.UTS, "hostname"); got != "pod-host" {
		t.Errorf("hostname in the pinned UTS namespace = %q, want pod-host", got)
	}
	if got, _ := os.Hostname(); got != self {
		t.Errorf("the node's hostname changed to %q", got)
	}
	for _, kind := range []struct{ flag, path, proc string }{
		{"--net=", p.Net, "net"}, {"--ipc=", p.IPC, "ipc"}, {"--uts=", p.UTS, "uts"},
	} {
		inside := nsenter(t, kind.flag+kind.path, "readlink", "/proc/self/ns/"+kind.proc)
		host, _ := os.Readlink("/proc/self/ns/" + kind.proc)
		if inside == host || !strings.HasPrefix(inside, kind.proc+":") {
			t.Errorf("%s pinned at %s is %q; the node's is %q", kind.proc, kind.path, inside, host)
		}
	}
}

// A pod on the node's network and IPC gets only what it asks for; one
// with nothing of its own gets nothing.
func TestCreatePodMakesOnlyWhatIsAsked(t *testing.T) {
	requireRoot(t)
	dir := t.TempDir()
	if err := CreatePod(Pod{}); err != nil {
		t.Fatalf("CreatePod of nothing: %v", err)
	}
	p := Pod{UTS: filepath.Join(dir, "uts"), Hostname: "only-uts"}
	if err := CreatePod(p); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := Remove(p.UTS); err != nil {
			t.Error(err)
		}
	})
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("%d files in the pin directory, want the UTS pin alone", len(entries))
	}
	if got := nsenter(t, "--uts="+p.UTS, "hostname"); got != "only-uts" {
		t.Errorf("hostname = %q", got)
	}
}

// A pin that exists already fails the whole CreatePod, and leaves none of
// the others pinned.
func TestCreatePodLeavesNothingOnError(t *testing.T) {
	requireRoot(t)
	p := podPins(t.TempDir())
	if err := os.MkdirAll(filepath.Dir(p.UTS), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p.UTS, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	err := CreatePod(p)
	if !errdefs.IsAlreadyExists(err) {
		t.Fatalf("CreatePod over an existing pin = %v, want AlreadyExists", err)
	}
	for _, path := range []string{p.Net, p.IPC} {
		if _, err := os.Stat(path); !os.IsNotExist(err) || mounted(t, path) {
			t.Errorf("%s left behind by a failed CreatePod", path)
		}
	}
}

// With ID mappings the namespaces are owned by a new user namespace, and
// the hostname is still set.
func TestCreatePodInUserNamespace(t *testing.T) {
	requireRoot(t)
	p := podPins(t.TempDir())
	ids := specs.LinuxIDMapping{ContainerID: 0, HostID: 100000, Size: 65536}
	p.UIDs, p.GIDs = &ids, &ids
	if err := CreatePod(p); err != nil {
		t.Fatal(err)
	}
	userns := filepath.Join(filepath.Dir(p.UTS), "userns")
	if err := PinUserNS(p.Net, userns); err != nil {
		t.Fatal(err)
	}
	defer func() {
		for _, path := range []string{p.Net, p.IPC, p.UTS, userns} {
			if err := Remove(path); err != nil {
				t.Error(err)
			}
		}
	}()
	if got := nsenter(t, "--uts="+p.UTS, "hostname"); got != "pod-host" {
		t.Errorf("hostname in the pinned UTS namespace = %q, want pod-host", got)
	}
	if got := nsenter(t, "--user="+userns, "--preserve-credentials", "cat", "/proc/self/uid_map"); !strings.Contains(got, "100000") {
		t.Errorf("uid_map of the pinned user namespace = %q, want the pod's mapping", got)
	}
}
