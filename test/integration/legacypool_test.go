package integration

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/cio"
	"github.com/containerd/containerd/v2/pkg/oci"
	"github.com/containerd/errdefs"

	"github.com/berth-cri/berth/sandbox"
	"github.com/berth-cri/berth/test/harness"
)

// A Berth before 2026-12 kept a sandbox pool: pauses started ahead,
// labelled io.berth.kind=sandbox-pool, in cgroups under /berth-pool. The
// first start of this Berth on such a node removes them: the running
// pause and its task, its record and rootfs, and the pool's cgroups.
func TestUpgradeFromAPoolRemovesTheOldSandboxPool(t *testing.T) {
	d := harness.Start(t)
	client := containerdOf(t, d)
	ctx, cancel := ctxTimeout(time.Minute)
	defer cancel()
	img, err := client.GetImage(ctx, pauseRef)
	if err != nil {
		t.Fatalf("berthd's pause image: %v", err)
	}
	const id = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	md := &sandbox.Metadata{ID: id, Name: "pool", Dir: filepath.Join(d.Root, "sandboxes", id)}
	// An old pool's cgroup parent, in the cpu hierarchy where it was idle.
	poolCgroup := "/sys/fs/cgroup/cpu/berth-pool"
	if _, err := os.Stat("/sys/fs/cgroup/cpu"); err != nil {
		poolCgroup = ""
	} else if err := os.MkdirAll(filepath.Join(poolCgroup, "shims"), 0o755); err != nil {
		t.Fatal(err)
	}
	cgroupsPath := "/berth-pool/" + id
	c, err := client.NewContainer(ctx, id,
		containerd.WithNewSnapshot(id, img),
		containerd.WithNewSpec(oci.WithImageConfig(img), oci.WithCgroup(cgroupsPath)),
		containerd.WithContainerLabels(map[string]string{sandbox.LabelKind: "sandbox-pool"}),
		containerd.WithContainerExtension("io.berth.sandbox.metadata", md),
	)
	if err != nil {
		t.Fatal(err)
	}
	task, err := c.NewTask(ctx, cio.NullIO)
	if err != nil {
		t.Fatal(err)
	}
	if err := task.Start(ctx); err != nil {
		t.Fatal(err)
	}
	pausePid := int(task.Pid())

	d.Restart()
	if _, err := client.LoadContainer(ctx, id); !errdefs.IsNotFound(err) {
		t.Errorf("the old pool's pause container is still in containerd (err %v)", err)
	}
	if _, err := client.SnapshotService("overlayfs").Stat(ctx, id); !errdefs.IsNotFound(err) {
		t.Errorf("the old pool's pause rootfs is still there (err %v)", err)
	}
	d.WaitFor("the old pool's pause gone", 10*time.Second, func() bool { return !harness.ProcessAlive(pausePid) })
	if poolCgroup == "" {
		return
	}
	d.WaitFor("the old pool pause's cgroup removed", 10*time.Second, func() bool {
		_, err := os.Stat(filepath.Join(poolCgroup, id))
		return errors.Is(err, os.ErrNotExist)
	})
	// The pool's parent goes too, unless another berthd of the old
	// version on this machine (a developer's) still keeps its pool there.
	entries, err := os.ReadDir(poolCgroup)
	if errors.Is(err, os.ErrNotExist) {
		return
	}
	for _, e := range entries {
		if e.IsDir() && (e.Name() == "shims" || e.Name() == id) {
			if others, _ := os.ReadDir(filepath.Join(poolCgroup, e.Name())); e.Name() == "shims" && len(others) > 0 {
				continue
			}
			t.Errorf("%s is still there after the upgrade", filepath.Join(poolCgroup, e.Name()))
		}
	}
}
