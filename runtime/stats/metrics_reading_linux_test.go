package stats

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, data := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestReadMetricsV1(t *testing.T) {
	root := t.TempDir()
	const cg = "kubepods/pod1/c1"
	writeFiles(t, root, map[string]string{
		"cpuacct/" + cg + "/cpuacct.usage":                           "3000000000\n",
		"cpuacct/" + cg + "/cpuacct.usage_user":                      "2000000000\n",
		"cpuacct/" + cg + "/cpuacct.usage_sys":                       "1000000000\n",
		"cpu/" + cg + "/cpu.stat":                                    "nr_periods 10\nnr_throttled 4\nthrottled_time 2500000000\n",
		"memory/" + cg + "/memory.usage_in_bytes":                    "1000\n",
		"memory/" + cg + "/memory.max_usage_in_bytes":                "1500\n",
		"memory/" + cg + "/memory.failcnt":                           "2\n",
		"memory/" + cg + "/memory.kmem.usage_in_bytes":               "64\n",
		"memory/" + cg + "/memory.memsw.usage_in_bytes":              "1200\n",
		"memory/" + cg + "/memory.oom_control":                       "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n",
		"memory/" + cg + "/memory.stat":                              "cache 5\ntotal_cache 300\ntotal_rss 600\ntotal_mapped_file 30\ntotal_inactive_file 250\ntotal_active_file 50\ntotal_pgfault 77\ntotal_pgmajfault 1\n",
		"memory/" + cg + "/cgroup.procs":                             "41\n42\n",
		"pids/" + cg + "/pids.current":                               "6\n",
		"pids/" + cg + "/pids.max":                                   "max\n",
		"blkio/" + cg + "/blkio.throttle.io_service_bytes_recursive": "259:0 Read 8192\n259:0 Write 4096\n259:0 Total 12288\nTotal 12288\n",
		"blkio/" + cg + "/blkio.throttle.io_serviced_recursive":      "259:0 Read 2\n259:0 Write 1\n259:0 Total 3\nTotal 3\n",
	})
	r, pids, err := readMetricsV1(root, cg)
	if err != nil {
		t.Fatal(err)
	}
	if r.cpu != 3e9 || r.cpuUser != 2e9 || r.cpuSystem != 1e9 || r.cfsPeriods != 10 || r.cfsThrottled != 4 || r.throttled != 2.5e9 {
		t.Errorf("cpu = %+v", r)
	}
	if r.memUsage != 1000 || r.memMax != 1500 || r.workingSet != 750 || r.rss != 600 || r.cache != 300 || r.mapped != 30 ||
		r.swap != 200 || r.kernel != 64 || r.failcnt != 2 || r.oomKills != 3 || r.pgfault != 77 || r.pgmajfault != 1 {
		t.Errorf("memory = %+v", r)
	}
	if r.threads != 6 || r.threadsMax != 0 || len(pids) != 2 || pids[1] != 42 {
		t.Errorf("threads %d max %d, pids %v", r.threads, r.threadsMax, pids)
	}
	if len(r.io) != 3 || r.io[0].op != "Read" || r.io[0].bytes != 8192 || r.io[0].ios != 2 || r.io[2].op != "Write" || r.io[2].ios != 1 {
		t.Errorf("io = %+v", r.io)
	}

	// A container that exited meanwhile: its cgroup is gone.
	if _, _, err := readMetricsV1(root, "kubepods/pod1/gone"); !errors.Is(err, errNoCgroup) {
		t.Errorf("reading a removed cgroup: %v, want errNoCgroup", err)
	}
}

func TestReadMetricsV2(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"cpu.stat":            "usage_usec 3000000\nuser_usec 2000000\nsystem_usec 1000000\nnr_periods 10\nnr_throttled 4\nthrottled_usec 2500000\n",
		"memory.current":      "1000\n",
		"memory.peak":         "1500\n",
		"memory.swap.current": "200\n",
		"memory.events":       "low 0\nhigh 0\nmax 2\noom 3\noom_kill 3\n",
		"memory.stat":         "anon 600\nfile 300\nkernel 64\nfile_mapped 30\ninactive_file 250\nactive_file 50\npgfault 77\npgmajfault 1\n",
		"pids.current":        "6\n",
		"pids.max":            "100\n",
		"io.stat":             "259:0 rbytes=8192 wbytes=4096 rios=2 wios=1 dbytes=0 dios=0\n",
		"cgroup.procs":        "41\n",
	})
	r, pids, err := readMetricsV2(dir)
	if err != nil {
		t.Fatal(err)
	}
	if r.cpu != 3e9 || r.cpuUser != 2e9 || r.cpuSystem != 1e9 || r.throttled != 2.5e9 {
		t.Errorf("cpu = %+v", r)
	}
	if r.memUsage != 1000 || r.memMax != 1500 || r.workingSet != 750 || r.rss != 600 || r.cache != 300 ||
		r.swap != 200 || r.kernel != 64 || r.failcnt != 2 || r.oomKills != 3 || r.pgfault != 77 {
		t.Errorf("memory = %+v", r)
	}
	if r.threads != 6 || r.threadsMax != 100 || len(pids) != 1 {
		t.Errorf("threads %d max %d, pids %v", r.threads, r.threadsMax, pids)
	}
	if len(r.io) != 2 || r.io[0].op != "Read" || r.io[0].bytes != 8192 || r.io[1].op != "Write" || r.io[1].ios != 1 {
		t.Errorf("io = %+v", r.io)
	}
}

func TestCountFDs(t *testing.T) {
	proc := t.TempDir()
	fd := filepath.Join(proc, "7", "fd")
	if err := os.MkdirAll(fd, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, target := range map[string]string{"0": "/dev/null", "1": "socket:[1234]", "2": "pipe:[9]"} {
		if err := os.Symlink(target, filepath.Join(fd, name)); err != nil {
			t.Fatal(err)
		}
	}
	// Process 8 exited before its descriptors were counted.
	if fds, socks := countFDs(proc, []uint64{7, 8}); fds != 3 || socks != 1 {
		t.Errorf("countFDs = %d fds, %d sockets; want 3 and 1", fds, socks)
	}
}
