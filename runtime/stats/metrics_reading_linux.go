package stats

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// readMetricsV1 reads the cgroup at path below the v1 hierarchies
// mounted under root. Only the CPU, cpuacct and memory files are
// required; what a node may lack (swap accounting, kmem, pids, blkio)
// reads as zero. pids are the processes in the cgroup.
func readMetricsV1(root, path string) (r reading, pids []uint64, err error) {
	cpuacct := filepath.Join(root, "cpuacct", path)
	if r.cpu, err = readUint(filepath.Join(cpuacct, "cpuacct.usage")); err != nil {
		return r, nil, err
	}
	r.cpuUser, _ = readUint(filepath.Join(cpuacct, "cpuacct.usage_user"))
	r.cpuSystem, _ = readUint(filepath.Join(cpuacct, "cpuacct.usage_sys"))
	if cpu, err := readKeyed(filepath.Join(root, "cpu", path, "cpu.stat")); err == nil {
		r.cfsPeriods, r.cfsThrottled, r.throttled = cpu["nr_periods"], cpu["nr_throttled"], cpu["throttled_time"]
	}

	mem := filepath.Join(root, "memory", path)
	if r.memUsage, err = readUint(filepath.Join(mem, "memory.usage_in_bytes")); err != nil {
		return r, nil, err
	}
	stat, err := readKeyed(filepath.Join(mem, "memory.stat"))
	if err != nil {
		return r, nil, err
	}
	r.memMax, _ = readUint(filepath.Join(mem, "memory.max_usage_in_bytes"))
	r.failcnt, _ = readUint(filepath.Join(mem, "memory.failcnt"))
	r.kernel, _ = readUint(filepath.Join(mem, "memory.kmem.usage_in_bytes"))
	// memsw counts memory and swap together; it is there only with swap
	// accounting.
	if sw, err := readUint(filepath.Join(mem, "memory.memsw.usage_in_bytes")); err == nil && sw > r.memUsage {
		r.swap = sw - r.memUsage
	}
	if oom, err := readKeyed(filepath.Join(mem, "memory.oom_control")); err == nil {
		r.oomKills = oom["oom_kill"]
	}
	r.workingSet = workingSet(r.memUsage, stat["total_inactive_file"])
	r.rss, r.cache, r.mapped = stat["total_rss"], stat["total_cache"], stat["total_mapped_file"]
	r.activeFile, r.inactiveFile = stat["total_active_file"], stat["total_inactive_file"]
	r.pgfault, r.pgmajfault = stat["total_pgfault"], stat["total_pgmajfault"]

	r.threads, _ = readUint(filepath.Join(root, "pids", path, "pids.current"))
	r.threadsMax = readLimit(filepath.Join(root, "pids", path, "pids.max"))

	blkio := filepath.Join(root, "blkio", path)
	r.io = blkioV1(filepath.Join(blkio, "blkio.throttle.io_service_bytes_recursive"), filepath.Join(blkio, "blkio.throttle.io_serviced_recursive"))

	pids, err = readProcs(filepath.Join(mem, "cgroup.procs"))
	return r, pids, err
}

// readMetricsV2 reads the cgroup v2 directory dir. cpu.stat, memory.current
// and memory.stat are required; the rest reads as zero when missing.
func readMetricsV2(dir string) (r reading, pids []uint64, err error) {
	cpu, err := readKeyed(filepath.Join(dir, "cpu.stat"))
	if err != nil {
		return r, nil, err
	}
	r.cpu, r.cpuUser, r.cpuSystem = cpu["usage_usec"]*1000, cpu["user_usec"]*1000, cpu["system_usec"]*1000
	r.cfsPeriods, r.cfsThrottled, r.throttled = cpu["nr_periods"], cpu["nr_throttled"], cpu["throttled_usec"]*1000

	if r.memUsage, err = readUint(filepath.Join(dir, "memory.current")); err != nil {
		return r, nil, err
	}
	stat, err := readKeyed(filepath.Join(dir, "memory.stat"))
	if err != nil {
		return r, nil, err
	}
	r.memMax, _ = readUint(filepath.Join(dir, "memory.peak"))
	r.swap, _ = readUint(filepath.Join(dir, "memory.swap.current"))
	if ev, err := readKeyed(filepath.Join(dir, "memory.events")); err == nil {
		r.failcnt, r.oomKills = ev["max"], ev["oom_kill"]
	}
	r.workingSet = workingSet(r.memUsage, stat["inactive_file"])
	r.rss, r.cache, r.mapped = stat["anon"], stat["file"], stat["file_mapped"]
	// "kernel" is there from Linux 5.18; before, its largest parts.
	if k, ok := stat["kernel"]; ok {
		r.kernel = k
	} else {
		r.kernel = stat["kernel_stack"] + stat["slab"] + stat["sock"] + stat["pagetables"]
	}
	r.activeFile, r.inactiveFile = stat["active_file"], stat["inactive_file"]
	r.pgfault, r.pgmajfault = stat["pgfault"], stat["pgmajfault"]

	r.threads, _ = readUint(filepath.Join(dir, "pids.current"))
	r.threadsMax = readLimit(filepath.Join(dir, "pids.max"))
	r.io = ioV2(filepath.Join(dir, "io.stat"))

	pids, err = readProcs(filepath.Join(dir, "cgroup.procs"))
	return r, pids, err
}

// readLimit reads a limit file where "max" means none (0).
func readLimit(path string) uint64 {
	v, _ := readUint(path)
	return v
}

// readProcs reads a cgroup.procs file.
func readProcs(path string) ([]uint64, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, errNoCgroup
	}
	if err != nil {
		return nil, err
	}
	var pids []uint64
	for _, f := range strings.Fields(string(data)) {
		if pid, err := strconv.ParseUint(f, 10, 64); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// blkioV1 reads the throttle policy's byte and I/O counts ("8:0 Read
// 4096" lines, then "Total n"), which count every I/O whatever the
// scheduler.
func blkioV1(bytesFile, iosFile string) []ioEntry {
	type key struct {
		major, minor uint64
		op           string
	}
	entries := map[key]*ioEntry{}
	read := func(path string, set func(*ioEntry, uint64)) {
		data, err := os.ReadFile(path)
		if err != nil {
			return
		}
		sc := bufio.NewScanner(bytes.NewReader(data))
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) != 3 {
				continue // the node-wide "Total n"
			}
			major, minor, ok := parseDevice(f[0])
			v, err := strconv.ParseUint(f[2], 10, 64)
			if !ok || err != nil {
				continue
			}
			k := key{major, minor, f[1]}
			if entries[k] == nil {
				entries[k] = &ioEntry{device: deviceOf(major, minor), major: major, minor: minor, op: f[1]}
			}
			set(entries[k], v)
		}
	}
	read(bytesFile, func(e *ioEntry, v uint64) { e.bytes = v })
	read(iosFile, func(e *ioEntry, v uint64) { e.ios = v })
	out := make([]ioEntry, 0, len(entries))
	for _, e := range entries {
		out = append(out, *e)
	}
	sortIO(out)
	return out
}

// ioV2 reads io.stat: "8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=0 dios=0".
func ioV2(path string) []ioEntry {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var out []ioEntry
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 {
			continue
		}
		major, minor, ok := parseDevice(f[0])
		if !ok {
			continue
		}
		kv := map[string]uint64{}
		for _, p := range f[1:] {
			k, v, _ := strings.Cut(p, "=")
			kv[k], _ = strconv.ParseUint(v, 10, 64)
		}
		dev := deviceOf(major, minor)
		out = append(out,
			ioEntry{device: dev, major: major, minor: minor, op: "Read", bytes: kv["rbytes"], ios: kv["rios"]},
			ioEntry{device: dev, major: major, minor: minor, op: "Write", bytes: kv["wbytes"], ios: kv["wios"]})
	}
	sortIO(out)
	return out
}

func parseDevice(s string) (major, minor uint64, ok bool) {
	a, b, found := strings.Cut(s, ":")
	if !found {
		return 0, 0, false
	}
	major, err1 := strconv.ParseUint(a, 10, 64)
	minor, err2 := strconv.ParseUint(b, 10, 64)
	return major, minor, err1 == nil && err2 == nil
}

func sortIO(io []ioEntry) {
	sort.Slice(io, func(i, j int) bool {
		a, b := io[i], io[j]
		if a.major != b.major {
			return a.major < b.major
		}
		if a.minor != b.minor {
			return a.minor < b.minor
		}
		return a.op < b.op
	})
}
