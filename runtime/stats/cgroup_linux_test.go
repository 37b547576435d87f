package stats

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/berth-cri/berth/internal/cgroup"
)

// TestReadCgroupUnderEitherDriver: the stats find a container's cgroup
// from the cgroupsPath runc was given, in the systemd driver's
// slice:prefix:name form (a scope inside the pod's nested slices) as in the
// cgroupfs one, and read cgroup v2's files there.
func TestReadCgroupUnderEitherDriver(t *testing.T) {
	v2 := map[string]string{
		"cpu.stat":       "usage_usec 2500\nuser_usec 2000\nsystem_usec 500\n",
		"memory.current": "4096\n",
		"memory.max":     "8192\n",
		"memory.stat":    "anon 1024\ninactive_file 1000\npgfault 9\npgmajfault 2\n",
		"pids.current":   "3\n",
	}
	for _, tc := range []struct {
		name        string
		driver      cgroup.Driver
		parent, dir string
	}{
		{"systemd", cgroup.Systemd, "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1.slice",
			"kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1.slice/berth-c1.scope"},
		{"cgroupfs", cgroup.Cgroupfs, "/kubepods/burstable/pod1", "kubepods/burstable/pod1/c1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			files := map[string]string{}
			for name, data := range v2 {
				files[filepath.Join(tc.dir, name)] = data
			}
			writeFiles(t, root, files)
			p, err := tc.driver.Path(tc.parent, "c1")
			if err != nil {
				t.Fatal(err)
			}
			dir, err := cgroup.Dir(p)
			if err != nil {
				t.Fatal(err)
			}
			s, err := readCgroupAt(root, true, dir)
			if err != nil {
				t.Fatalf("reading the cgroup of %q: %v", p, err)
			}
			if s.cpu != 2500e3 || s.memUsage != 4096 || s.memLimit != 8192 || s.workingSet != 3096 || s.rss != 1024 || s.pids != 3 || s.majorPageFaults != 2 {
				t.Errorf("sample = %+v", s)
			}
		})
	}
}

func TestReadCgroupV2WithoutLimitAndGone(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, map[string]string{
		"a/cpu.stat": "usage_usec 1\n", "a/memory.current": "10\n", "a/memory.max": "max\n", "a/memory.stat": "anon 5\n",
	})
	s, err := readCgroupAt(root, true, "a")
	if err != nil || s.memLimit != 0 {
		t.Errorf("memory.max \"max\": limit %d, %v; want no limit", s.memLimit, err)
	}
	if _, err := readCgroupAt(root, true, "gone"); !errors.Is(err, errNoCgroup) {
		t.Errorf("a removed cgroup: %v, want errNoCgroup", err)
	}
}
