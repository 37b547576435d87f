package netns

import (
	"bufio"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/containerd/errdefs"
	"github.com/opencontainers/runtime-spec/specs-go"
	"github.com/vishvananda/netlink"
	vnetns "github.com/vishvananda/netns"
)

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("creating network namespaces needs root (CAP_SYS_ADMIN)")
	}
}

func inode(t *testing.T, path string) uint64 {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		t.Fatalf("stat %s: %v", path, err)
	}
	return st.Ino
}

// mounted reports whether path is a mount point in this process's mount
// table, decoding the octal escapes mountinfo uses for odd characters.
func mounted(t *testing.T, path string) bool {
	t.Helper()
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 4 && unescapeMountinfo(fields[4]) == path {
			return true
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return false
}

func unescapeMountinfo(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// threadsIn returns the thread IDs of this process whose network namespace
// has the given inode.
func threadsIn(t *testing.T, ino uint64) []string {
	t.Helper()
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Fatal(err)
	}
	var in []string
	for _, task := range tasks {
		var st syscall.Stat_t
		if err := syscall.Stat(filepath.Join("/proc/self/task", task.Name(), "ns/net"), &st); err != nil {
			continue // the thread exited meanwhile
		}
		if st.Ino == ino {
			in = append(in, task.Name())
		}
	}
	return in
}

func TestCreatePinsANewNamespaceAndRemoveLeavesNoMount(t *testing.T) {
	requireRoot(t)
	dir := t.TempDir()
	const id = "3f1c0ffee"
	hostIno := inode(t, "/proc/self/ns/net")

	path, err := Create(dir, id)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	t.Cleanup(func() { _ = Remove(path) })

	if want := filepath.Join(dir, id); path != want {
		t.Errorf("Create returned %s, want %s", path, want)
	}
	podIno := inode(t, path)
	if podIno == hostIno {
		t.Fatalf("pinned namespace has the host's inode %d: no new namespace was made", hostIno)
	}
	if !mounted(t, path) {
		t.Errorf("%s is not a mount point after Create", path)
	}
	if ok, err := Exists(path); err != nil || !ok {
		t.Errorf("Exists = %v, %v; want true", ok, err)
	}
	if ids, err := List(dir); err != nil || !slices.Equal(ids, []string{id}) {
		t.Errorf("List = %v, %v; want [%s]", ids, err, id)
	}

	// The thread that made the namespace must be gone, not parked in the
	// scheduler's pool where any goroutine could land in the pod's network,
	// nor wedged as the main thread (which /proc/self/net follows).
	if got := inode(t, "/proc/self/ns/net"); got != hostIno {
		t.Errorf("the main thread moved to namespace %d during Create", got)
	}
	deadline := time.Now().Add(5 * time.Second)
	for tids := threadsIn(t, podIno); len(tids) > 0; tids = threadsIn(t, podIno) {
		if time.Now().After(deadline) {
			t.Fatalf("threads %v of berthd are still in the pod namespace", tids)
		}
		time.Sleep(10 * time.Millisecond)
	}

	if err := Remove(path); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	if mounted(t, path) {
		t.Errorf("%s is still mounted after Remove", path)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("mount point still there after Remove: %v", err)
	}
	if ok, err := Exists(path); err != nil || ok {
		t.Errorf("Exists after Remove = %v, %v; want false, nil", ok, err)
	}
	if err := Remove(path); err != nil {
		t.Errorf("second Remove = %v, want nil", err)
	}
}

func TestCreateTwiceKeepsTheFirstNamespace(t *testing.T) {
	requireRoot(t)
	dir := t.TempDir()
	path, err := Create(dir, "pod")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = Remove(path) })
	before := inode(t, path)

	if _, err := Create(dir, "pod"); !errors.Is(err, errdefs.ErrAlreadyExists) {
		t.Fatalf("second Create = %v, want AlreadyExists", err)
	}
	if ok, _ := Exists(path); !ok || inode(t, path) != before {
		t.Errorf("the first namespace was disturbed by the failed second Create")
	}
}

func TestBringUpLoopback(t *testing.T) {
	requireRoot(t)
	path, err := Create(t.TempDir(), "lo-test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = Remove(path) })

	loUp := func() bool {
		h, err := vnetns.GetFromPath(path)
		if err != nil {
			t.Fatal(err)
		}
		defer h.Close()
		nl, err := netlink.NewHandleAt(h)
		if err != nil {
			t.Fatal(err)
		}
		defer nl.Close()
		lo, err := nl.LinkByName("lo")
		if err != nil {
			t.Fatal(err)
		}
		return lo.Attrs().Flags&syscall.IFF_UP != 0
	}
	if loUp() {
		t.Fatal("lo is up in a fresh namespace; the test could not tell BringUpLoopback worked")
	}
	if err := BringUpLoopback(path); err != nil {
		t.Fatalf("BringUpLoopback: %v", err)
	}
	if !loUp() {
		t.Error("lo is still down after BringUpLoopback")
	}

	if err := BringUpLoopback(filepath.Join(t.TempDir(), "gone")); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("BringUpLoopback on a missing path = %v, want NotFound", err)
	}
}

func TestRemoveAndExistsOnLeftovers(t *testing.T) {
	requireRoot(t)
	dir := t.TempDir()

	// A crash between creating the mount point and mounting leaves an empty
	// file: it is not a namespace, List still reports it, Remove deletes it.
	leftover := filepath.Join(dir, "crashed")
	if err := os.WriteFile(leftover, nil, 0o444); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "not-a-sandbox"), 0o755); err != nil {
		t.Fatal(err)
	}
	if ok, err := Exists(leftover); err != nil || ok {
		t.Errorf("Exists(leftover) = %v, %v; want false, nil", ok, err)
	}
	if ids, err := List(dir); err != nil || !slices.Equal(ids, []string{"crashed"}) {
		t.Errorf("List = %v, %v; want [crashed]", ids, err)
	}
	if err := Remove(leftover); err != nil {
		t.Errorf("Remove(leftover) = %v", err)
	}
	if _, err := os.Stat(leftover); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("leftover still there: %v", err)
	}

	if err := Remove(filepath.Join(dir, "never-existed")); err != nil {
		t.Errorf("Remove of a missing path = %v, want nil", err)
	}
	if ids, err := List(filepath.Join(dir, "no-such-dir")); err != nil || len(ids) != 0 {
		t.Errorf("List of a missing dir = %v, %v; want none", ids, err)
	}
}

// Go may run Create's goroutine on the main thread, which it can never
// terminate; the namespace change must not stick to it.
func TestCreateNeverMovesTheMainThread(t *testing.T) {
	requireRoot(t)
	dir := t.TempDir()
	hostIno := inode(t, "/proc/self/ns/net")
	for i := range 16 {
		path, err := Create(dir, "pod"+strconv.Itoa(i))
		if err != nil {
			t.Fatal(err)
		}
		if err := Remove(path); err != nil {
			t.Fatal(err)
		}
		if got := inode(t, "/proc/self/ns/net"); got != hostIno {
			t.Fatalf("after %d Creates the main thread is in namespace %d, not the host's %d", i+1, got, hostIno)
		}
	}
}

func TestCreateInUserNSOwnsTheNamespaceAndPinsIt(t *testing.T) {
	requireRoot(t)
	nsenter, err := exec.LookPath("nsenter")
	if err != nil {
		t.Skip("needs nsenter (util-linux) to look into the user namespace")
	}
	dir := t.TempDir()
	const id = "0ddba11"
	ids := specs.LinuxIDMapping{ContainerID: 0, HostID: 300000, Size: 65536}
	path, err := CreateInUserNS(dir, id, ids, ids)
	if err != nil {
		t.Fatalf("CreateInUserNS: %v", err)
	}
	t.Cleanup(func() { _ = Remove(path) })
	if inode(t, path) == inode(t, "/proc/self/ns/net") {
		t.Fatal("no new network namespace was made")
	}
	pin := filepath.Join(t.TempDir(), "userns")
	if err := PinUserNS(path, pin); err != nil {
		t.Fatalf("PinUserNS: %v", err)
	}
	t.Cleanup(func() { _ = Remove(pin) })
	if inode(t, pin) == inode(t, "/proc/self/ns/user") {
		t.Fatal("the network namespace is owned by the node's user namespace")
	}
	// Inside the pinned user namespace the mapping is the one asked for.
	out, err := exec.Command(nsenter, "--user="+pin, "--net="+path, "cat", "/proc/self/uid_map", "/proc/self/gid_map").CombinedOutput()
	if err != nil {
		t.Fatalf("nsenter: %v: %s", err, out)
	}
	if got, want := strings.Join(strings.Fields(string(out)), " "), "0 300000 65536 0 300000 65536"; got != want {
		t.Errorf("uid_map and gid_map = %q, want %q", got, want)
	}
	if err := PinUserNS(path, pin); !errdefs.IsAlreadyExists(err) {
		t.Errorf("second PinUserNS onto the same file: %v, want AlreadyExists", err)
	}
	for _, p := range []string{pin, path} {
		if err := Remove(p); err != nil {
			t.Fatalf("Remove %s: %v", p, err)
		}
		if mounted(t, p) {
			t.Errorf("%s still mounted after Remove", p)
		}
	}
}
