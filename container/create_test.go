package container

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/containerd/containerd/v2/core/mount"
	"github.com/containerd/errdefs"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// TestCreateFailureLeavesNothing: a CreateContainer that fails at any step
// leaves no snapshot, no containerd record, no state directory and no
// name reservation, so kubelet's next try with the same name works.
func TestCreateFailureLeavesNothing(t *testing.T) {
	unavailable := fmt.Errorf("containerd: %w", errdefs.ErrUnavailable)
	for _, tc := range []struct {
		name    string
		fault   func(e *env)
		mutate  func(cfg *runtimeapi.ContainerConfig)
		wantErr func(error) bool
	}{
		{
			name:    "image not on the node",
			mutate:  func(cfg *runtimeapi.ContainerConfig) { cfg.Image.Image = "missing" },
			wantErr: errdefs.IsNotFound,
		},
		{
			name:    "log path outside the pod's log directory",
			mutate:  func(cfg *runtimeapi.ContainerConfig) { cfg.LogPath = "../../etc/cron.d/x" },
			wantErr: errdefs.IsInvalidArgument,
		},
		{
			name:    "sandbox not ready",
			fault:   func(e *env) { e.setSandbox(runtimeapi.PodSandboxState_SANDBOX_NOTREADY) },
			wantErr: errdefs.IsFailedPrecondition,
		},
		{
			name:    "snapshot prepare fails",
			fault:   func(e *env) { e.f.failOn("snapshots.prepare", unavailable) },
			wantErr: errdefs.IsUnavailable,
		},
		{
			// The user options read the image's /etc/passwd from the
			// new layer, through the mounts Prepare returned.
			name: "spec cannot be built",
			fault: func(e *env) {
				e.f.mu.Lock()
				e.f.prepared = []mount.Mount{{Type: "berth-no-such-fs", Source: "none"}}
				e.f.mu.Unlock()
			},
			wantErr: func(err error) bool { return err != nil && strings.Contains(err.Error(), "build OCI spec") },
		},
		{
			name: "PID namespace target unknown",
			mutate: func(cfg *runtimeapi.ContainerConfig) {
				cfg.Linux.SecurityContext.NamespaceOptions = &runtimeapi.NamespaceOption{Pid: runtimeapi.NamespaceMode_TARGET, TargetId: "nope"}
			},
			wantErr: errdefs.IsNotFound,
		},
		{
			name:    "containerd refuses the record",
			fault:   func(e *env) { e.f.failOn("records.create", unavailable) },
			wantErr: errdefs.IsUnavailable,
		},
		{
			// containerd made the record, but the answer came back after
			// the request's deadline.
			name:    "record made, answer lost to the deadline",
			fault:   func(e *env) { e.f.failOn("records.created", context.DeadlineExceeded) },
			wantErr: func(err error) bool { return errors.Is(err, context.DeadlineExceeded) },
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			cfg := config("app", 0)
			if tc.mutate != nil {
				tc.mutate(cfg)
			}
			if tc.fault != nil {
				tc.fault(e)
			}
			id, err := e.m.Create(e.ctx(), e.sb.ID, cfg)
			if !tc.wantErr(err) {
				t.Fatalf("CreateContainer = %q, %v; want the error of the failing step", id, err)
			}
			if left := e.f.anything(); len(left) > 0 {
				t.Errorf("containerd still holds %q", left)
			}
			if got := e.m.Store().List(); len(got) > 0 {
				t.Errorf("%d containers listed", len(got))
			}
			if dirs := e.stateDirs(); len(dirs) > 0 {
				t.Errorf("state directories left: %q", dirs)
			}

			// kubelet tries again once the cause is gone.
			e.f.clearHooks()
			e.setSandbox(runtimeapi.PodSandboxState_SANDBOX_READY)
			id, err = e.m.Create(e.ctx(), e.sb.ID, config("app", 0))
			if err != nil {
				t.Fatalf("the retry: %v", err)
			}
			if c := e.container(id); c.Status().State != runtimeapi.ContainerState_CONTAINER_CREATED {
				t.Errorf("the retry made a container in state %v", c.Status().State)
			}
		})
	}
}

// TestCreateRecreatesAMissingLease: the sandbox's lease, which holds the
// new layer, deleted by hand: CreateContainer recreates it and succeeds.
func TestCreateRecreatesAMissingLease(t *testing.T) {
	e := newEnv(t)
	e.f.on("snapshots.prepare", func(context.Context, string) error {
		if !e.f.hasLease(e.sb.ID) {
			return fmt.Errorf("lease berth-sandbox-sb1: %w", errdefs.ErrNotFound)
		}
		return nil
	})
	id := e.create("app")
	if !e.f.hasLease(e.sb.ID) {
		t.Error("the sandbox's lease was not recreated")
	}
	if left := e.f.leftOf(id); !slices.Equal(left, []string{"record", "snapshot " + id}) {
		t.Errorf("containerd holds %q of the container, want its record and snapshot", left)
	}
}

// TestCreateRetryAfterTimeout is kubelet's CreateContainer retried after
// its deadline passed, with the same name and attempt.
func TestCreateRetryAfterTimeout(t *testing.T) {
	t.Run("timed out while being made", func(t *testing.T) {
		e := newEnv(t)
		// containerd is slow: the snapshot takes longer than kubelet
		// waits.
		e.f.on("snapshots.prepare", func(ctx context.Context, _ string) error {
			<-ctx.Done()
			return ctx.Err()
		})
		ctx, cancel := context.WithTimeout(e.ctx(), 50*time.Millisecond)
		defer cancel()
		if _, err := e.m.Create(ctx, e.sb.ID, config("app", 0)); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("CreateContainer past its deadline = %v", err)
		}
		e.f.on("snapshots.prepare", nil)
		id, err := e.m.Create(e.ctx(), e.sb.ID, config("app", 0))
		if err != nil {
			t.Fatalf("kubelet's retry: %v", err)
		}
		if n := len(e.m.Store().List()); n != 1 {
			t.Errorf("%d containers listed, want the retry's alone", n)
		}
		if left := e.f.anything(); len(left) != 2 {
			t.Errorf("containerd holds %q, want the retry's record and snapshot (%s)", left, id)
		}
	})
	t.Run("finished after kubelet gave up", func(t *testing.T) {
		e := newEnv(t)
		first := e.create("app") // kubelet never saw the answer
		_, err := e.m.Create(e.ctx(), e.sb.ID, config("app", 0))
		if !errdefs.IsAlreadyExists(err) {
			t.Fatalf("the retry = %v, want AlreadyExists naming the first", err)
		}
		// kubelet lists the first, removes it, and creates again.
		if c := e.container(first); c.Status().State != runtimeapi.ContainerState_CONTAINER_CREATED {
			t.Errorf("the first is %v", c.Status().State)
		}
		if err := e.m.Remove(e.ctx(), first); err != nil {
			t.Fatal(err)
		}
		e.assertGone(first, "app")
	})
}

// The spec's user options ask for the rootfs's mounts: those of the
// snapshot CreateContainer just prepared come from Prepare's answer, with
// no second call to containerd; any other snapshot's are asked for.
func TestSpecReadsThePreparedRootfsWithoutAskingContainerdAgain(t *testing.T) {
	f := newFakeContainerd(t)
	ctx := context.Background()
	if _, err := f.roles().Snapshots.Prepare(ctx, "other", ""); err != nil {
		t.Fatal(err)
	}
	prepared := []mount.Mount{{Type: "overlay", Source: "overlay", Options: []string{"lowerdir=/l", "upperdir=/u", "workdir=/w"}}}
	sn := snapshotsClient{s: f.roles().Snapshots, key: "ctr", mounts: prepared}.SnapshotService("overlayfs")
	got, err := sn.Mounts(ctx, "ctr")
	if err != nil || !reflect.DeepEqual(got, prepared) {
		t.Fatalf("Mounts of the prepared snapshot = %v, %v; want %v", got, err, prepared)
	}
	if _, err := sn.Mounts(ctx, "other"); err != nil {
		t.Fatalf("Mounts of another snapshot: %v", err)
	}
	if got, want := f.callLog("snapshots."), []string{"snapshots.prepare other", "snapshots.mounts other"}; !reflect.DeepEqual(got, want) {
		t.Errorf("calls to containerd = %q, want %q", got, want)
	}
}
