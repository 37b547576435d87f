package container

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/containerd/errdefs"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// TestAKillThatRacesTheExitIsAStop: a process that exits as it is
// signalled has its task deleted under the kill, which then fails on the
// shim's closed connection; StopContainer must succeed once the exit is
// recorded, and must not wait when containerd itself is down.
func TestAKillThatRacesTheExitIsAStop(t *testing.T) {
	m := NewManager(Config{})
	closed := errors.New("ttrpc: closed")

	c := newContainer(Metadata{ID: "c1"}, Status{State: runtimeapi.ContainerState_CONTAINER_RUNNING})
	go func() {
		time.Sleep(50 * time.Millisecond) // recordExit finishing
		c.markExited()
	}()
	if !m.exitedMeanwhile(context.Background(), c, closed) {
		t.Error("a container that exited while it was killed: the stop failed")
	}

	running := newContainer(Metadata{ID: "c2"}, Status{State: runtimeapi.ContainerState_CONTAINER_RUNNING})
	start := time.Now()
	if m.exitedMeanwhile(context.Background(), running, fmt.Errorf("containerd: %w", errdefs.ErrUnavailable)) {
		t.Error("containerd unavailable counted as an exit")
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("an unavailable containerd made the stop wait %v", d)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if m.exitedMeanwhile(ctx, running, closed) {
		t.Error("a container still running counted as exited")
	}
}

// TestStop: StopContainer sends the stop signal, waits out the grace
// period, then SIGKILL to every process of the container; whatever state
// the container is in, a second Stop and an unknown ID are success.
func TestStop(t *testing.T) {
	for _, tc := range []struct {
		name string
		// prepare makes the container to stop and returns its ID.
		prepare   func(e *env) string
		timeout   time.Duration
		wantKills []string
		wantState runtimeapi.ContainerState
		wantCode  int32
		minWait   time.Duration
	}{
		{
			name: "stop signal ignored: SIGKILL after the grace period",
			prepare: func(e *env) string {
				id, task := e.run("app")
				task.ignore(syscall.SIGTERM)
				return id
			},
			timeout:   200 * time.Millisecond,
			wantKills: []string{"tasks.kill SIGTERM all=false", "tasks.kill SIGKILL all=true"},
			wantState: runtimeapi.ContainerState_CONTAINER_EXITED,
			wantCode:  137,
			minWait:   200 * time.Millisecond,
		},
		{
			name:      "exits on its stop signal",
			prepare:   func(e *env) string { id, _ := e.run("app"); return id },
			timeout:   time.Minute,
			wantKills: []string{"tasks.kill SIGTERM all=false"},
			wantState: runtimeapi.ContainerState_CONTAINER_EXITED,
			wantCode:  143,
		},
		{
			name: "the config's stop signal",
			prepare: func(e *env) string {
				cfg := config("app", 0)
				cfg.StopSignal = runtimeapi.Signal_SIGNAL_SIGINT
				id, err := e.m.Create(e.ctx(), e.sb.ID, cfg)
				if err == nil {
					err = e.m.Start(e.ctx(), id)
				}
				if err != nil {
					e.t.Fatal(err)
				}
				return id
			},
			timeout:   time.Minute,
			wantKills: []string{"tasks.kill SIGINT all=false"},
			wantState: runtimeapi.ContainerState_CONTAINER_EXITED,
			wantCode:  130,
		},
		{
			name:      "no grace period: SIGKILL at once",
			prepare:   func(e *env) string { id, _ := e.run("app"); return id },
			wantKills: []string{"tasks.kill SIGKILL all=true"},
			wantState: runtimeapi.ContainerState_CONTAINER_EXITED,
			wantCode:  137,
		},
		{
			name: "exited already",
			prepare: func(e *env) string {
				id, task := e.run("app")
				task.exit(4, "")
				e.waitExited(id)
				return id
			},
			timeout:   time.Minute,
			wantState: runtimeapi.ContainerState_CONTAINER_EXITED,
			wantCode:  4,
		},
		{
			name:      "created, never started",
			prepare:   func(e *env) string { return e.create("app") },
			timeout:   time.Minute,
			wantState: runtimeapi.ContainerState_CONTAINER_CREATED,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			id := tc.prepare(e)
			start := time.Now()
			if err := e.m.Stop(e.ctx(), id, tc.timeout); err != nil {
				t.Fatalf("StopContainer: %v", err)
			}
			if d := time.Since(start); d < tc.minWait {
				t.Errorf("stopped after %v, before the grace period of %v", d, tc.minWait)
			}
			if err := e.m.Stop(e.ctx(), id, tc.timeout); err != nil {
				t.Errorf("StopContainer again: %v", err)
			}
			if got := e.f.callLog("tasks.kill"); !slices.Equal(got, prefixed(tc.wantKills, id)) {
				t.Errorf("signals %q, want %q", got, tc.wantKills)
			}
			st := e.container(id).Status()
			if st.State != tc.wantState || st.ExitCode != tc.wantCode {
				t.Errorf("after StopContainer: %v, exit code %d; want %v, %d", st.State, st.ExitCode, tc.wantState, tc.wantCode)
			}
			if st.State == runtimeapi.ContainerState_CONTAINER_EXITED && st.Reason == ReasonOOMKilled {
				t.Error("a SIGKILL Berth sent shows as OOMKilled")
			}
		})
	}
	t.Run("unknown ID", func(t *testing.T) {
		e := newEnv(t)
		if err := e.m.Stop(e.ctx(), "0123456789abcdef", time.Second); err != nil {
			t.Errorf("StopContainer of an unknown ID: %v", err)
		}
	})
}

func prefixed(calls []string, id string) []string {
	var out []string
	for _, c := range calls {
		out = append(out, c+" "+id)
	}
	return out
}

// TestRemove: RemoveContainer stops a running container first, then
// leaves nothing of it; a removal that fails keeps the container listed so
// that kubelet's retry finishes it.
func TestRemove(t *testing.T) {
	t.Run("running: stopped first", func(t *testing.T) {
		e := newEnv(t)
		id, _ := e.run("app")
		if err := e.m.Remove(e.ctx(), id); err != nil {
			t.Fatalf("RemoveContainer: %v", err)
		}
		if got := e.f.callLog("tasks.kill"); !slices.Equal(got, []string{"tasks.kill SIGKILL all=true " + id}) {
			t.Errorf("signals %q, want SIGKILL to all", got)
		}
		e.assertGone(id, "app")
	})
	t.Run("unknown ID, and twice", func(t *testing.T) {
		e := newEnv(t)
		id := e.create("app")
		for i := range 2 {
			if err := e.m.Remove(e.ctx(), id); err != nil {
				t.Errorf("RemoveContainer #%d: %v", i+1, err)
			}
		}
		e.assertGone(id, "app")
	})
	t.Run("snapshot removal fails, then the retry", func(t *testing.T) {
		e := newEnv(t)
		id, task := e.run("app")
		task.exit(0, "")
		e.waitExited(id)
		e.f.failOn("snapshots.remove", fmt.Errorf("device busy: %w", errdefs.ErrUnavailable))
		if err := e.m.Remove(e.ctx(), id); !errdefs.IsUnavailable(err) {
			t.Fatalf("RemoveContainer = %v, want the snapshotter's Unavailable", err)
		}
		c := e.container(id) // still listed: kubelet retries
		if st := c.Status(); st.Removing || st.State != runtimeapi.ContainerState_CONTAINER_EXITED {
			t.Errorf("after a failed removal: %+v", st)
		}
		e.f.clearHooks()
		if err := e.m.Remove(e.ctx(), id); err != nil {
			t.Fatalf("the retry: %v", err)
		}
		e.assertGone(id, "app")
	})
	t.Run("containerd record deleted by hand", func(t *testing.T) {
		e := newEnv(t)
		id := e.create("app")
		e.f.mu.Lock()
		delete(e.f.records, id)
		e.f.mu.Unlock()
		if err := e.m.Remove(e.ctx(), id); err != nil {
			t.Fatalf("RemoveContainer: %v", err)
		}
		e.assertGone(id, "app")
	})
}

// TestConcurrentLifecycle: StartContainer, StopContainer and
// RemoveContainer of one container at once (kubelet's pod worker and its
// cleanup racing) each succeed or refuse cleanly, and a last
// RemoveContainer leaves nothing.
func TestConcurrentLifecycle(t *testing.T) {
	e := newEnv(t)
	for i := range 20 {
		id := e.create("app")
		errs := make(chan error, 3)
		go func() { errs <- e.m.Start(e.ctx(), id) }()
		go func() { errs <- e.m.Stop(e.ctx(), id, 0) }()
		go func() { errs <- e.m.Remove(e.ctx(), id) }()
		for range 3 {
			if err := <-errs; err != nil && !errdefs.IsFailedPrecondition(err) && !errdefs.IsNotFound(err) {
				t.Errorf("round %d: %v", i, err)
			}
		}
		if c, err := e.m.Store().Get(id); err == nil {
			st := c.Status()
			if st.Starting || st.Removing {
				t.Errorf("round %d: left %+v", i, st)
			}
			if err := e.m.Remove(e.ctx(), id); err != nil {
				t.Fatalf("round %d: the last RemoveContainer: %v", i, err)
			}
		}
		if left := e.f.anything(); len(left) > 0 {
			t.Fatalf("round %d: containerd holds %q", i, left)
		}
		if dirs := e.stateDirs(); len(dirs) > 0 {
			t.Fatalf("round %d: state directories %q", i, dirs)
		}
	}
}
