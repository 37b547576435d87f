package sandbox

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"

	"github.com/berth-cri/berth/internal/procsig"
)

// A pooled pause (pool.go) was started before its pod was known, with a
// placeholder hostname and in a cgroup of the pool's. When a pod takes it,
// it is given what runc would have given it at its start: the pod's
// hostname in its UTS namespace, and a cgroup under the pod's cgroup
// parent set up as runc set up the pool's.

// setHostname sets the hostname of the UTS namespace p owns.
func setHostname(p procsig.Process, name string) error {
	fd, err := p.Open()
	if err != nil {
		return fmt.Errorf("open the pause process: %w", err)
	}
	defer unix.Close(fd)
	errc := make(chan error, 1)
	go func() {
		// The thread enters the pause's UTS namespace and is never given
		// back: a goroutine that ends locked takes its thread with it.
		runtime.LockOSThread()
		if err := unix.Setns(fd, unix.CLONE_NEWUTS); err != nil {
			errc <- fmt.Errorf("enter the pod's UTS namespace: %w", err)
			return
		}
		errc <- unix.Sethostname([]byte(name))
	}()
	return <-errc
}

// cgroupHierarchy is one mounted cgroup hierarchy.
type cgroupHierarchy struct {
	mountpoint string
	cpuset     bool
	cpu        bool
}

// cgroupV1Hierarchies lists the cgroup v1 hierarchies (and, on a hybrid
// host, the unified one), or none on a cgroup v2 host: there, runc's
// device rules are eBPF programs attached to the container's cgroup,
// which a move to another cgroup would leave behind.
func cgroupV1Hierarchies() ([]cgroupHierarchy, error) {
	mounts, err := mountinfo.GetMounts(func(i *mountinfo.Info) (skip, stop bool) {
		return i.FSType != "cgroup" && i.FSType != "cgroup2", false
	})
	if err != nil {
		return nil, err
	}
	var out []cgroupHierarchy
	v1 := false
	for _, mnt := range mounts {
		if mnt.Root != "/" {
			continue // a bind of a sub-cgroup, as inside a container
		}
		v1 = v1 || mnt.FSType == "cgroup"
		opts := "," + mnt.VFSOptions + ","
		out = append(out, cgroupHierarchy{
			mountpoint: mnt.Mountpoint,
			cpuset:     strings.Contains(opts, ",cpuset,"),
			cpu:        mnt.FSType == "cgroup" && strings.Contains(opts, ",cpu,"),
		})
	}
	if !v1 {
		return nil, nil
	}
	return out, nil
}

// copiedCgroupFiles are the settings runc may write for a pause, copied
// from its first cgroup to the one it moves to. The device rules are
// copied apart.
var copiedCgroupFiles = []string{"cpu.shares", "cpu.cfs_period_us", "cpu.cfs_quota_us", "pids.max", "memory.limit_in_bytes"}

// moveCgroup moves p from the cgroup from to the cgroup to, in every
// hierarchy runc put it in, with from's settings.
func moveCgroup(hier []cgroupHierarchy, p procsig.Process, from, to string) error {
	for _, h := range hier {
		src, dst := filepath.Join(h.mountpoint, from), filepath.Join(h.mountpoint, to)
		if _, err := os.Stat(src); errors.Is(err, os.ErrNotExist) {
			continue // runc did not join this one
		}
		if err := mkCgroup(h, dst); err != nil {
			return err
		}
		if err := copyCgroupSettings(src, dst); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dst, "cgroup.procs"), []byte(strconv.Itoa(p.PID)), 0); err != nil {
			return fmt.Errorf("move the pause into %s: %w", dst, err)
		}
	}
	// The PID written was p's only if p still runs.
	fd, err := p.Open()
	if err != nil {
		return fmt.Errorf("the pause process after its move: %w", err)
	}
	unix.Close(fd)
	return nil
}

// mkCgroup creates dir and its missing parents. A new cpuset cgroup has
// no CPUs or memory nodes until given its parent's, as runc gives them.
func mkCgroup(h cgroupHierarchy, dir string) error {
	if _, err := os.Stat(dir); err == nil {
		return nil
	}
	parent := filepath.Dir(dir)
	if parent != h.mountpoint {
		if err := mkCgroup(h, parent); err != nil {
			return err
		}
	}
	if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("create cgroup %s: %w", dir, err)
	}
	if !h.cpuset {
		return nil
	}
	for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
		cur, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			return err
		}
		if len(bytes.TrimSpace(cur)) > 0 {
			continue
		}
		val, err := os.ReadFile(filepath.Join(parent, f))
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, f), val, 0); err != nil {
			return fmt.Errorf("set %s of %s: %w", f, dir, err)
		}
	}
	return nil
}

// copyCgroupSettings gives dst the settings of src that differ, and src's
// device rules: all devices denied, then src's allowed ones.
func copyCgroupSettings(src, dst string) error {
	for _, f := range copiedCgroupFiles {
		want, err := os.ReadFile(filepath.Join(src, f))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		have, err := os.ReadFile(filepath.Join(dst, f))
		if err != nil {
			return err
		}
		if bytes.Equal(have, want) {
			continue
		}
		if err := os.WriteFile(filepath.Join(dst, f), want, 0); err != nil {
			return fmt.Errorf("set %s of %s: %w", f, dst, err)
		}
	}
	rules, err := os.ReadFile(filepath.Join(src, "devices.list"))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	have, err := os.ReadFile(filepath.Join(dst, "devices.list"))
	if err != nil || bytes.Equal(have, rules) {
		return err
	}
	if err := os.WriteFile(filepath.Join(dst, "devices.deny"), []byte("a"), 0); err != nil {
		return fmt.Errorf("deny devices in %s: %w", dst, err)
	}
	for _, rule := range strings.Split(strings.TrimSpace(string(rules)), "\n") {
		if rule == "" {
			continue
		}
		if err := os.WriteFile(filepath.Join(dst, "devices.allow"), []byte(rule), 0); err != nil {
			return fmt.Errorf("allow device %q in %s: %w", rule, dst, err)
		}
	}
	return nil
}

// removeCgroup removes the cgroup path from every hierarchy once its last
// process has gone. A cgroup whose last process just exited may be busy
// for a moment: retried, as runc does.
func removeCgroup(hier []cgroupHierarchy, path string) error {
	var errs []error
	for _, h := range hier {
		dir := filepath.Join(h.mountpoint, path)
		var err error
		for wait := time.Millisecond; ; wait *= 2 {
			err = unix.Rmdir(dir)
			if !errors.Is(err, unix.EBUSY) || wait > 200*time.Millisecond {
				break
			}
			time.Sleep(wait)
		}
		if err != nil && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, fmt.Errorf("remove cgroup %s: %w", dir, err))
		}
	}
	return errors.Join(errs...)
}

// retargetRuncState points runc's record of a moved pause at its new
// cgroup, so that what runc does with it later (ps, delete, the cgroup's
// removal) acts on the cgroup the pause is in. runc writes the record at
// create and start, and for a pause never again. Nothing but the cgroup
// paths changes; the file is replaced in one rename.
func retargetRuncState(stateFile, from, to string) error {
	data, err := os.ReadFile(stateFile)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber() // keep runc's integers as written
	var state map[string]any
	if err := dec.Decode(&state); err != nil {
		return fmt.Errorf("runc state %s: %w", stateFile, err)
	}
	paths, _ := state["cgroup_paths"].(map[string]any)
	for k, v := range paths {
		if p, ok := v.(string); ok && strings.HasSuffix(p, from) {
			paths[k] = strings.TrimSuffix(p, from) + to
		}
	}
	cfg, _ := state["config"].(map[string]any)
	cg, _ := cfg["cgroups"].(map[string]any)
	if cg == nil || cg["path"] != from {
		return fmt.Errorf("runc state %s: cgroup path is %v, not %s", stateFile, cg["path"], from)
	}
	cg["path"] = to
	out, err := json.Marshal(state)
	if err != nil {
		return err
	}
	tmp := stateFile + ".berth"
	if err := os.WriteFile(tmp, out, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, stateFile)
}

// removeEmptyCgroup removes path, and the cgroups right under it, from
// every hierarchy where they are empty, once, without waiting: a child a
// removal found busy for a moment (cpuset is the slowest to let go) goes
// here.
func removeEmptyCgroup(hier []cgroupHierarchy, path string) {
	for _, h := range hier {
		dir := filepath.Join(h.mountpoint, path)
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if e.IsDir() {
				_ = unix.Rmdir(filepath.Join(dir, e.Name()))
			}
		}
		_ = unix.Rmdir(dir)
	}
}

// A pooled sandbox is made in the background, and its CPU time is the
// pods' that run meanwhile: on a node with few cores, a pause started
// beside a pod's calls slows them. So the pool's cgroup parent is idle in
// the cpu hierarchy (it runs on time nothing else wants), and with it the
// pooled pauses' cgroups, which runc's init joins early, and the cgroup
// the pooled shims are started in, which the runc commands they run
// inherit. A pod that takes one moves its pause into the pod's cgroup and
// its shim back to containerd's cgroup; a Run waiting for a sandbox still
// being made lifts the parent to normal priority while it waits.

// cpuHierarchy is the hierarchy of the cpu controller, or nil.
func cpuHierarchy(hier []cgroupHierarchy) *cgroupHierarchy {
	for i := range hier {
		if hier[i].cpu {
			return &hier[i]
		}
	}
	return nil
}

// preparePoolCgroups makes the pool's cgroup parent and its shims' cgroup
// in the cpu hierarchy h, the parent idle or not.
func preparePoolCgroups(h cgroupHierarchy, idle bool) error {
	if err := mkCgroup(h, filepath.Join(h.mountpoint, poolShimCgroup)); err != nil {
		return err
	}
	return setCPUIdle(filepath.Join(h.mountpoint, poolCgroupParent), idle)
}

// setCPUIdle makes the cpu cgroup dir idle, or not. Before Linux 5.15
// there is no cpu.idle, and its CPU weight is set to the least instead.
func setCPUIdle(dir string, idle bool) error {
	file, val := "cpu.idle", "0"
	if idle {
		val = "1"
	}
	if _, err := os.Stat(filepath.Join(dir, file)); errors.Is(err, os.ErrNotExist) {
		file, val = "cpu.shares", "1024"
		if idle {
			val = "2"
		}
	}
	if err := os.WriteFile(filepath.Join(dir, file), []byte(val), 0); err != nil {
		return fmt.Errorf("set %s of %s: %w", file, dir, err)
	}
	return nil
}

// processCgroup is pid's cgroup in the v1 hierarchy of controller.
func processCgroup(pid int, controller string) (string, error) {
	data, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cgroup"))
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(string(data), "\n") {
		// hierarchy-ID:controller,controller:path
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		for _, c := range strings.Split(parts[1], ",") {
			if c == controller {
				return parts[2], nil
			}
		}
	}
	return "", fmt.Errorf("process %d is in no %s cgroup", pid, controller)
}

// containerdCPUCgroup is the cpu cgroup of the containerd with PID pid
// in the PID namespace pidns: where the shims it starts run.
func containerdCPUCgroup(pid, pidns uint64) (string, error) {
	var st unix.Stat_t
	if err := unix.Stat("/proc/self/ns/pid", &st); err != nil {
		return "", err
	}
	if pidns != 0 && st.Ino != pidns {
		return "", errors.New("containerd runs in another PID namespace")
	}
	return processCgroup(int(pid), "cpu")
}

// moveShimHome moves the shim of the pooled pause p from the cpu cgroup
// from, where it was started, into home in the cpu hierarchy h.
func moveShimHome(h cgroupHierarchy, p procsig.Process, from, home string) error {
	shim, err := p.Parent()
	if err != nil {
		return fmt.Errorf("the pause process's parent: %w", err)
	}
	// The shim is the pause's parent (a subreaper, it takes runc's init
	// when runc exits); a parent in any other cgroup is not the shim.
	if cg, err := processCgroup(shim, "cpu"); err != nil || cg != from {
		return fmt.Errorf("the pause's parent %d is not a pooled shim (cpu cgroup %q, %v)", shim, cg, err)
	}
	dst := filepath.Join(h.mountpoint, home, "cgroup.procs")
	if err := os.WriteFile(dst, []byte(strconv.Itoa(shim)), 0); err != nil {
		return fmt.Errorf("move the shim into %s: %w", dst, err)
	}
	return nil
}
