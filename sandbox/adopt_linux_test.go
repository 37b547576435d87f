package sandbox

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berth-cri/berth/internal/procsig"
)

// sleeper starts a process to move around, ended with the test.
func sleeper(t *testing.T, args ...string) (procsig.Process, *exec.Cmd) {
	t.Helper()
	cmd := exec.Command(args[0], args[1:]...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	p, err := procsig.Identify(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	return p, cmd
}

func TestMoveCgroupGivesThePodsCgroupRuncsSettings(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	hier, err := cgroupV1Hierarchies()
	if err != nil {
		t.Fatal(err)
	}
	if hier == nil {
		t.Skip("no cgroup v1 here")
	}
	base := fmt.Sprintf("/berth-adopt-test-%d", os.Getpid())
	from, to := base+"/pool/x", base+"/kubepods/pod1/x"
	t.Cleanup(func() {
		for _, dir := range []string{to, base + "/kubepods/pod1", base + "/kubepods", from, base + "/pool", base} {
			_ = removeCgroup(hier, dir)
		}
	})
	// from as runc leaves a pause's: the smallest CPU weight, devices
	// denied but /dev/null.
	var cpu, devices string
	for _, h := range hier {
		if err := mkCgroup(h, filepath.Join(h.mountpoint, from)); err != nil {
			t.Fatal(err)
		}
		switch {
		case exists(filepath.Join(h.mountpoint, from, "cpu.shares")):
			cpu = filepath.Join(h.mountpoint, from)
		case exists(filepath.Join(h.mountpoint, from, "devices.list")):
			devices = filepath.Join(h.mountpoint, from)
		}
	}
	if cpu == "" || devices == "" {
		t.Skip("no cpu or devices hierarchy")
	}
	write(t, filepath.Join(cpu, "cpu.shares"), "2")
	write(t, filepath.Join(devices, "devices.deny"), "a")
	write(t, filepath.Join(devices, "devices.allow"), "c 1:3 rwm")

	p, cmd := sleeper(t, "sleep", "600")
	for _, h := range hier {
		write(t, filepath.Join(h.mountpoint, from, "cgroup.procs"), strconv.Itoa(p.PID))
	}
	if err := moveCgroup(hier, p, from, to); err != nil {
		t.Fatal(err)
	}

	cg, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", p.PID))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(cg)), "\n") {
		if parts := strings.SplitN(line, ":", 3); len(parts) == 3 && parts[2] != to {
			t.Errorf("after the move the process is in %q, want %q (%s)", parts[2], to, line)
		}
	}
	toCPU := strings.Replace(cpu, from, to, 1)
	toDevices := strings.Replace(devices, from, to, 1)
	if got := read(t, filepath.Join(toCPU, "cpu.shares")); got != "2" {
		t.Errorf("cpu.shares of the pod's cgroup = %s, want runc's 2", got)
	}
	if got := read(t, filepath.Join(toDevices, "devices.list")); got != "c 1:3 rwm" {
		t.Errorf("devices of the pod's cgroup = %q, want only /dev/null as runc set", got)
	}
	for _, h := range hier {
		if h.cpuset && read(t, filepath.Join(h.mountpoint, to, "cpuset.cpus")) == "" {
			t.Error("the pod's cpuset cgroup has no CPUs")
		}
	}

	// Busy while the process is in it; removed once it is gone.
	if err := removeCgroup(hier, to); err == nil {
		t.Error("removeCgroup removed a cgroup a process is in")
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	if err := removeCgroup(hier, to); err != nil {
		t.Fatal(err)
	}
	for _, h := range hier {
		if exists(filepath.Join(h.mountpoint, to)) {
			t.Errorf("%s is still there", filepath.Join(h.mountpoint, to))
		}
	}
	if err := removeCgroup(hier, to); err != nil {
		t.Errorf("removing a removed cgroup: %v", err)
	}
}

func TestSetHostnameChangesOnlyTheProcessesUTSNamespace(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("no unshare")
	}
	own, _ := os.Hostname()
	p, _ := sleeper(t, "unshare", "--uts", "sleep", "600")
	// unshare execs sleep once the namespace is made.
	for i := 0; i < 100; i++ {
		if comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", p.PID)); strings.TrimSpace(string(comm)) == "sleep" {
			break
		}
		sleepMs(10)
	}
	if err := setHostname(p, "pod-a"); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("nsenter", "--uts=/proc/"+strconv.Itoa(p.PID)+"/ns/uts", "hostname").Output()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(out)); got != "pod-a" {
		t.Errorf("hostname in the process's namespace = %q, want pod-a", got)
	}
	if now, _ := os.Hostname(); now != own {
		t.Errorf("the node's hostname changed from %q to %q", own, now)
	}
}

func exists(path string) bool { _, err := os.Stat(path); return err == nil }

func write(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0); err != nil {
		t.Fatal(err)
	}
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func sleepMs(n int) { time.Sleep(time.Duration(n) * time.Millisecond) }

func TestRetargetRuncStateMovesOnlyTheCgroupPaths(t *testing.T) {
	const from, to = "/berth-pool/abc", "/kubepods/pod1/abc"
	state := `{"id":"abc","init_process_pid":4242,"init_process_start":18446744073709551615,` +
		`"config":{"rootfs":"/r","cgroups":{"path":"/berth-pool/abc","devices":[{"type":97,"allow":false}]}},` +
		`"cgroup_paths":{"cpu":"/sys/fs/cgroup/cpu/berth-pool/abc","":"/sys/fs/cgroup/unified/berth-pool/abc"},"rootless":false}`
	file := filepath.Join(t.TempDir(), "state.json")
	write(t, file, state)
	if err := retargetRuncState(file, from, to); err != nil {
		t.Fatal(err)
	}
	got := read(t, file)
	for _, want := range []string{
		`"path":"/kubepods/pod1/abc"`,
		`"cpu":"/sys/fs/cgroup/cpu/kubepods/pod1/abc"`,
		`"":"/sys/fs/cgroup/unified/kubepods/pod1/abc"`,
		`"init_process_start":18446744073709551615`, // not rounded through a float
		`"devices":[{"allow":false,"type":97}]`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("state after the move lacks %s:\n%s", want, got)
		}
	}
	if strings.Contains(got, "berth-pool") {
		t.Errorf("state still names the pool's cgroup:\n%s", got)
	}
	// A state whose cgroup is not the one moved from is left alone.
	if err := retargetRuncState(file, from, "/elsewhere/abc"); err == nil {
		t.Error("retargeted a state that does not name the cgroup moved from")
	}
	if read(t, file) != got {
		t.Error("a refused retarget changed the file")
	}
}

// A pooled shim leaves the pool's idle cgroup for containerd's when a pod
// takes its pause, so that what it runs for the pod's containers runs at
// normal priority; a process that is not the pause's parent in the pool's
// shim cgroup is never moved.
func TestMoveShimHomeMovesThePausesShimOnly(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	hier, err := cgroupV1Hierarchies()
	if err != nil {
		t.Fatal(err)
	}
	h := cpuHierarchy(hier)
	if h == nil {
		t.Skip("no cgroup v1 cpu hierarchy here")
	}
	base := fmt.Sprintf("/berth-shim-test-%d", os.Getpid())
	from, home := base+"/shims", base+"/home"
	t.Cleanup(func() {
		for _, dir := range []string{from, home, base} {
			_ = removeCgroup([]cgroupHierarchy{*h}, dir)
		}
	})
	for _, dir := range []string{from, home} {
		if err := mkCgroup(*h, filepath.Join(h.mountpoint, dir)); err != nil {
			t.Fatal(err)
		}
	}
	// The pool's parent is idle, and not once a Run waits for it.
	if err := setCPUIdle(filepath.Join(h.mountpoint, base), true); err != nil {
		t.Fatal(err)
	}
	idle, normal := "1", "0"
	file := filepath.Join(h.mountpoint, base, "cpu.idle")
	if !exists(file) {
		idle, normal, file = "2", "1024", filepath.Join(h.mountpoint, base, "cpu.shares")
	}
	if got := read(t, file); got != idle {
		t.Errorf("%s of an idle pool = %s, want %s", file, got, idle)
	}
	if err := setCPUIdle(filepath.Join(h.mountpoint, base), false); err != nil {
		t.Fatal(err)
	}
	if got := read(t, file); got != normal {
		t.Errorf("%s of a pool a Run waits for = %s, want %s", file, got, normal)
	}

	// A shim in the pool's cgroup, and its child, the pause.
	shim := exec.Command("sh", "-c", "sleep 600 & echo $!; wait")
	out, err := shim.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := shim.Start(); err != nil {
		t.Fatal(err)
	}
	var child int
	_, scanErr := fmt.Fscan(out, &child)
	t.Cleanup(func() {
		_ = syscall.Kill(child, syscall.SIGKILL)
		_ = shim.Process.Kill()
		_ = shim.Wait()
	})
	if scanErr != nil {
		t.Fatal(scanErr)
	}
	pause, err := procsig.Identify(child)
	if err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(h.mountpoint, from, "cgroup.procs"), strconv.Itoa(shim.Process.Pid))
	pauseWas, err := processCgroup(child, "cpu")
	if err != nil {
		t.Fatal(err)
	}

	if err := moveShimHome(*h, pause, from, home); err != nil {
		t.Fatal(err)
	}
	if got, _ := processCgroup(shim.Process.Pid, "cpu"); got != home {
		t.Errorf("the shim is in cpu cgroup %q after the move, want %q", got, home)
	}
	if got, _ := processCgroup(child, "cpu"); got != pauseWas {
		t.Errorf("the pause moved with its shim, to %q; want it left in %q", got, pauseWas)
	}
	// Its parent no longer in the pool's cgroup, nothing moves.
	if err := moveShimHome(*h, pause, from, from); err == nil {
		t.Error("a pause whose parent is not in the pool's shim cgroup had its parent moved")
	}
	if got, _ := processCgroup(shim.Process.Pid, "cpu"); got != home {
		t.Errorf("a refused move left the shim in %q, want %q", got, home)
	}
}
