package container

import (
	"testing"
	"time"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/errdefs"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// TestRecover: after berthd restarts, each container is found in the
// state it reached while berthd was away, with the exit code and time
// kubelet decides restarts from, and its name reserved again.
func TestRecover(t *testing.T) {
	for _, tc := range []struct {
		name string
		// before brings a container to a state, with berthd running.
		before func(e *env) string
		// away happens while berthd is down.
		away      func(e *env, id string)
		wantState runtimeapi.ContainerState
		wantCode  int32
		// wantReason is the reason shown; "" for a container not exited.
		wantReason string
		// wantExitedAt says the exit time must be the process's.
		wantExitedAt bool
		wantNoTask   bool
	}{
		{
			name:      "created, never started",
			before:    func(e *env) string { return e.create("app") },
			wantState: runtimeapi.ContainerState_CONTAINER_CREATED,
		},
		{
			name:      "running",
			before:    func(e *env) string { id, _ := e.run("app"); return id },
			wantState: runtimeapi.ContainerState_CONTAINER_RUNNING,
		},
		{
			name:         "exited while berthd was away",
			before:       func(e *env) string { id, _ := e.run("app"); return id },
			away:         func(e *env, id string) { e.f.task(id).exit(2, "") },
			wantState:    runtimeapi.ContainerState_CONTAINER_EXITED,
			wantCode:     2,
			wantReason:   ReasonError,
			wantExitedAt: true,
			wantNoTask:   true,
		},
		{
			name:   "task gone while berthd was away",
			before: func(e *env) string { id, _ := e.run("app"); return id },
			away: func(e *env, id string) {
				e.f.mu.Lock()
				delete(e.f.tasks, id)
				e.f.mu.Unlock()
			},
			wantState:  runtimeapi.ContainerState_CONTAINER_EXITED,
			wantCode:   unknownExitCode,
			wantReason: "Unknown",
			wantNoTask: true,
		},
		{
			name: "exited and recorded before",
			before: func(e *env) string {
				id, task := e.run("app")
				task.exit(0, "")
				e.waitExited(id)
				return id
			},
			wantState:  runtimeapi.ContainerState_CONTAINER_EXITED,
			wantCode:   0,
			wantReason: ReasonCompleted,
			wantNoTask: true,
		},
		{
			name: "failed to start",
			before: func(e *env) string {
				id := e.create("app")
				e.f.failOn("task.start", errBoom)
				if err := e.m.Start(e.ctx(), id); err == nil {
					e.t.Fatal("the start did not fail")
				}
				e.f.clearHooks()
				return id
			},
			wantState:  runtimeapi.ContainerState_CONTAINER_EXITED,
			wantCode:   startErrorExitCode,
			wantReason: ReasonStartError,
			wantNoTask: true,
		},
		{
			// berthd died in StartContainer between the task's creation
			// and its start: the task goes, the container can start.
			name:   "task created, never started",
			before: func(e *env) string { return e.create("app") },
			away: func(e *env, id string) {
				e.f.putTask(id, containerd.Created)
			},
			wantState:  runtimeapi.ContainerState_CONTAINER_CREATED,
			wantNoTask: true,
		},
		{
			// berthd died before the monitor wrote RUNNING.
			name:   "status record missing, task running",
			before: func(e *env) string { id, _ := e.run("app"); return id },
			away: func(e *env, id string) {
				e.f.mu.Lock()
				rec := e.f.records[id]
				delete(rec.Extensions, extensionStatus)
				e.f.records[id] = rec
				e.f.mu.Unlock()
			},
			wantState: runtimeapi.ContainerState_CONTAINER_RUNNING,
		},
		{
			// The record says CREATED (berthd died before the RUNNING
			// write) and the task has exited since.
			name:   "status record stale, task exited",
			before: func(e *env) string { id, _ := e.run("app"); return id },
			away: func(e *env, id string) {
				e.f.mu.Lock()
				rec := e.f.records[id]
				delete(rec.Extensions, extensionStatus)
				e.f.records[id] = rec
				e.f.mu.Unlock()
				e.f.task(id).exit(1, "")
			},
			wantState:    runtimeapi.ContainerState_CONTAINER_EXITED,
			wantCode:     1,
			wantReason:   ReasonError,
			wantExitedAt: true,
			wantNoTask:   true,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			id := tc.before(e)
			var exitedAt time.Time
			m := e.restart()
			if tc.away != nil {
				tc.away(e, id)
			}
			if task := e.f.task(id); task != nil {
				exitedAt = task.exitedAt
			}
			n, err := m.Recover(e.ctx())
			if err != nil || n != 1 {
				t.Fatalf("Recover = %d, %v", n, err)
			}
			st := e.container(id).Status()
			if st.State != tc.wantState || st.ExitCode != tc.wantCode || st.Reason != tc.wantReason {
				t.Errorf("recovered %v, exit code %d, reason %q; want %v, %d, %q", st.State, st.ExitCode, st.Reason, tc.wantState, tc.wantCode, tc.wantReason)
			}
			if tc.wantExitedAt && !st.FinishedAt.Equal(exitedAt) {
				t.Errorf("finished at %v, the process exited at %v", st.FinishedAt, exitedAt)
			}
			if st.State == runtimeapi.ContainerState_CONTAINER_EXITED {
				if rec := e.f.storedStatus(t, id); rec == nil || rec.State != st.State || rec.ExitCode != st.ExitCode {
					t.Errorf("containerd holds %+v: the next restart would see another state", rec)
				}
				select {
				case <-e.container(id).Exited():
				default:
					t.Error("an exited container's exit is not marked: StopContainer would wait")
				}
			}
			if tc.wantNoTask && e.f.task(id) != nil {
				t.Error("its task is left")
			}
			if _, err := m.Create(e.ctx(), e.sb.ID, config("app", 0)); !errdefs.IsAlreadyExists(err) {
				t.Errorf("a second container of the same name: %v, want AlreadyExists", err)
			}

			// The recovered container can be stopped and removed; a running
			// one's exit is watched.
			if st.State == runtimeapi.ContainerState_CONTAINER_RUNNING {
				if err := m.Stop(e.ctx(), id, 0); err != nil {
					t.Fatalf("StopContainer: %v", err)
				}
				if st := e.waitExited(id); st.ExitCode != 137 {
					t.Errorf("stopped after recovery: exit code %d", st.ExitCode)
				}
			}
			if err := m.Remove(e.ctx(), id); err != nil {
				t.Fatalf("RemoveContainer: %v", err)
			}
			e.assertGone(id, "app")
		})
	}
}

// TestRecoverSkipsForeignRecords: a record with Berth's label but no
// metadata (made by hand, or by a broken Berth) is left in containerd for
// an operator and not listed; the others are recovered.
func TestRecoverSkipsForeignRecords(t *testing.T) {
	e := newEnv(t)
	id := e.create("app")
	e.f.mu.Lock()
	rec := e.f.records[id]
	rec.ID = "foreign"
	rec.Extensions = nil
	e.f.records["foreign"] = rec
	e.f.mu.Unlock()
	m := e.restart()
	if n, err := m.Recover(e.ctx()); err != nil || n != 2 {
		t.Fatalf("Recover = %d, %v", n, err)
	}
	if _, err := m.Store().Get("foreign"); !errdefs.IsNotFound(err) {
		t.Errorf("a record without metadata is listed: %v", err)
	}
	if _, ok := e.f.record("foreign"); !ok {
		t.Error("a record Berth cannot read was deleted")
	}
	if c := e.container(id); c.Status().State != runtimeapi.ContainerState_CONTAINER_CREATED {
		t.Errorf("the other container: %v", c.Status().State)
	}
}
