package container

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/berth-cri/berth/internal/cgroup"
)

// TestOOMKilledReadsTheScopeOfASystemdCgroupsPath: on cgroup v2 with the
// systemd driver the count is in the container's scope, found from the
// slice:prefix:name path runc was given.
func TestOOMKilledReadsTheScopeOfASystemdCgroupsPath(t *testing.T) {
	for _, tc := range []struct {
		events string
		want   bool
	}{
		{"low 0\nhigh 0\nmax 4\noom 1\noom_kill 1\n", true},
		{"low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n", false},
	} {
		root := t.TempDir()
		scope := filepath.Join(root, "kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1.slice/berth-c1.scope")
		if err := os.MkdirAll(scope, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(scope, "memory.events"), []byte(tc.events), 0o644); err != nil {
			t.Fatal(err)
		}
		dir, err := cgroup.Dir("kubepods-burstable-pod1.slice:berth:c1")
		if err != nil {
			t.Fatal(err)
		}
		if got, known := oomKilledIn(root, dir); got != tc.want || !known {
			t.Errorf("memory.events %q: oomKilled = %v, want %v", tc.events, got, tc.want)
		}
	}
}

// TestOOMAtExitAfterSystemdRemovedTheScope: systemd removes an empty scope
// at once, so a container the OOM killer ended may have no cgroup left to
// ask; then its SIGKILL exit, with the pod slice's hierarchical count
// grown since it started, is the OOM killer's.
func TestOOMAtExitAfterSystemdRemovedTheScope(t *testing.T) {
	const p = "kubepods-burstable-pod1.slice:berth:c1"
	for _, tc := range []struct {
		name     string
		baseline bool
		killSent bool
		code     int32
		want     bool
	}{
		{"killed by the OOM killer", true, false, 137, true},
		{"Berth sent SIGKILL", true, true, 137, false},
		{"exited on its own", true, false, 1, false},
		{"started before berthd's restart: no baseline", false, false, 137, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			slice := filepath.Join(root, "kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1.slice")
			if err := os.MkdirAll(slice, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(slice, "memory.events"), []byte("low 0\nhigh 0\nmax 9\noom 3\noom_kill 3\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			c := newContainer(Metadata{ID: "c1", CgroupsPath: p}, Status{})
			c.setOOMBaseline(2, tc.baseline)
			c.killSent.Store(tc.killSent)
			if got := oomAtExitIn(root, c, tc.code); got != tc.want {
				t.Errorf("oomAtExit = %v, want %v", got, tc.want)
			}
		})
	}
	// While the scope is there, its own count decides.
	root := t.TempDir()
	scope := filepath.Join(root, "kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1.slice/berth-c1.scope")
	if err := os.MkdirAll(scope, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(scope, "memory.events"), []byte("oom_kill 0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(filepath.Dir(scope), "memory.events"), []byte("oom_kill 5\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c := newContainer(Metadata{ID: "c1", CgroupsPath: p}, Status{})
	c.setOOMBaseline(2, true)
	if oomAtExitIn(root, c, 137) {
		t.Error("a sibling's OOM kill counted for a container whose scope says none")
	}
}
