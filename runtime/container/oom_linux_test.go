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
		if got := oomKilledIn(root, dir); got != tc.want {
			t.Errorf("memory.events %q: oomKilled = %v, want %v", tc.events, got, tc.want)
		}
	}
}
