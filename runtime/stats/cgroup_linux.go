package stats

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// cgroupRoot is where the hierarchies are mounted.
const cgroupRoot = "/sys/fs/cgroup"

// readCgroup measures the cgroup at path (below each hierarchy's root) by
// reading the few files the stats need: a handful of small reads, where a
// full cgroup library Stat would read every controller.
func readCgroup(v2 bool, path string) (sample, error) {
	return readCgroupAt(cgroupRoot, v2, path)
}

// readCgroupAt reads below the hierarchies mounted at root, cgroup v2's
// single one when v2.
func readCgroupAt(root string, v2 bool, path string) (sample, error) {
	if v2 {
		return readCgroup2(filepath.Join(root, path))
	}
	return readCgroup1(root, path)
}

func readCgroup1(cgroupRoot, path string) (sample, error) {
	s := sample{at: time.Now()}
	cpu, err := readUint(filepath.Join(cgroupRoot, "cpuacct", path, "cpuacct.usage"))
	if err != nil {
		return s, err
	}
	s.cpu = cpu
	mem := filepath.Join(cgroupRoot, "memory", path)
	if s.memUsage, err = readUint(filepath.Join(mem, "memory.usage_in_bytes")); err != nil {
		return s, err
	}
	if limit, err := readUint(filepath.Join(mem, "memory.limit_in_bytes")); err == nil && limit < noLimit {
		s.memLimit = limit
	}
	stat, err := readKeyed(filepath.Join(mem, "memory.stat"))
	if err != nil {
		return s, err
	}
	s.workingSet = workingSet(s.memUsage, stat["total_inactive_file"])
	s.rss = stat["total_rss"]
	s.pageFaults, s.majorPageFaults = stat["total_pgfault"], stat["total_pgmajfault"]
	// The pids controller may be missing; then the count is unknown (0).
	s.pids, _ = readUint(filepath.Join(cgroupRoot, "pids", path, "pids.current"))
	return s, nil
}

func readCgroup2(dir string) (sample, error) {
	s := sample{at: time.Now()}
	cpu, err := readKeyed(filepath.Join(dir, "cpu.stat"))
	if err != nil {
		return s, err
	}
	s.cpu = cpu["usage_usec"] * 1000
	if s.memUsage, err = readUint(filepath.Join(dir, "memory.current")); err != nil {
		return s, err
	}
	if limit, err := readUint(filepath.Join(dir, "memory.max")); err == nil && limit < noLimit {
		s.memLimit = limit // "max" fails to parse: no limit
	}
	stat, err := readKeyed(filepath.Join(dir, "memory.stat"))
	if err != nil {
		return s, err
	}
	s.workingSet = workingSet(s.memUsage, stat["inactive_file"])
	s.rss = stat["anon"]
	s.pageFaults, s.majorPageFaults = stat["pgfault"], stat["pgmajfault"]
	s.pids, _ = readUint(filepath.Join(dir, "pids.current"))
	return s, nil
}

func readUint(path string) (uint64, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, fmt.Errorf("%s: %w", path, errNoCgroup)
	}
	if err != nil {
		return 0, err
	}
	return strconv.ParseUint(strings.TrimSpace(string(data)), 10, 64)
}

// readKeyed parses "key value" lines (memory.stat, cpu.stat).
func readKeyed(path string) (map[string]uint64, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", path, errNoCgroup)
	}
	if err != nil {
		return nil, err
	}
	out := map[string]uint64{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue
		}
		if n, err := strconv.ParseUint(v, 10, 64); err == nil {
			out[k] = n
		}
	}
	return out, nil
}
