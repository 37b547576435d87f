package container

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/containerd/errdefs"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/berth-cri/berth/internal/lifecycle"
)

// TestStartFailureLeavesAnExitedContainer: a StartContainer that fails
// leaves the container EXITED with StartError and a message a user can
// read (kubelet then creates the next attempt), with no task, no IO fifos,
// and the same status in containerd; RemoveContainer then leaves nothing.
func TestStartFailureLeavesAnExitedContainer(t *testing.T) {
	for _, tc := range []struct {
		name    string
		fault   func(e *env, id string)
		wantErr func(error) bool
		wantMsg string
	}{
		{
			name:    "task create fails",
			fault:   func(e *env, _ string) { e.f.failOn("tasks.create", errBoom) },
			wantErr: func(err error) bool { return errors.Is(err, errBoom) },
			wantMsg: "create task: boom",
		},
		{
			name: "task start fails",
			fault: func(e *env, _ string) {
				e.f.failOn("task.start", fmt.Errorf("exec: \"/bin/app\": not found: %w", errdefs.ErrNotFound))
			},
			wantErr: errdefs.IsNotFound,
			wantMsg: `start task: exec: "/bin/app": not found`,
		},
		{
			name:    "wait on the task fails",
			fault:   func(e *env, _ string) { e.f.failOn("task.wait", errdefs.ErrUnavailable) },
			wantErr: errdefs.IsUnavailable,
			wantMsg: "wait on task",
		},
		{
			name: "containerd record gone",
			fault: func(e *env, id string) {
				e.f.mu.Lock()
				delete(e.f.records, id)
				e.f.mu.Unlock()
			},
			wantErr: errdefs.IsNotFound,
			wantMsg: "not found",
		},
		{
			name:    "sandbox stopped meanwhile",
			fault:   func(e *env, _ string) { e.setSandbox(runtimeapi.PodSandboxState_SANDBOX_NOTREADY) },
			wantErr: errdefs.IsFailedPrecondition,
			wantMsg: "not ready",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			id := e.create("app")
			tc.fault(e, id)
			err := e.m.Start(e.ctx(), id)
			if !tc.wantErr(err) {
				t.Fatalf("StartContainer = %v", err)
			}
			st := e.container(id).Status()
			if st.State != runtimeapi.ContainerState_CONTAINER_EXITED || st.ExitCode != startErrorExitCode ||
				st.Reason != ReasonStartError || !strings.Contains(st.Message, tc.wantMsg) || st.FinishedAt.IsZero() {
				t.Errorf("status %v, exit code %d, reason %q, message %q, finished %v; want EXITED, %d, StartError, a message with %q",
					st.State, st.ExitCode, st.Reason, st.Message, st.FinishedAt, startErrorExitCode, tc.wantMsg)
			}
			select {
			case <-e.container(id).Exited():
			default:
				t.Error("a failed start is not an exit: StopContainer would wait")
			}
			if e.f.task(id) != nil {
				t.Error("the task of a failed start is left")
			}
			if left := e.fifos(id); len(left) > 0 {
				t.Errorf("IO fifos left: %q", left)
			}
			if tc.name != "containerd record gone" {
				if rec := e.f.storedStatus(t, id); rec == nil || rec.State != runtimeapi.ContainerState_CONTAINER_EXITED || rec.Reason != ReasonStartError {
					t.Errorf("containerd holds status %+v; a restart would lose the StartError", rec)
				}
			}
			if err := e.m.Start(e.ctx(), id); !errdefs.IsFailedPrecondition(err) {
				t.Errorf("starting it again = %v, want FailedPrecondition", err)
			}
			e.f.clearHooks()
			e.setSandbox(runtimeapi.PodSandboxState_SANDBOX_READY)
			if err := e.m.Remove(e.ctx(), id); err != nil {
				t.Fatalf("RemoveContainer: %v", err)
			}
			e.assertGone(id, "app")
		})
	}
}

// TestExitIsRecorded: a started container runs, its output reaches its CRI
// log, and its exit is recorded with the process's code and time, here and
// in containerd, its task deleted and its fifos removed.
func TestExitIsRecorded(t *testing.T) {
	for _, tc := range []struct {
		code       uint32
		wantReason string
	}{
		{0, ReasonCompleted},
		{3, ReasonError},
	} {
		t.Run(tc.wantReason, func(t *testing.T) {
			e := newEnv(t)
			id, task := e.run("app")
			st := e.container(id).Status()
			if st.State != runtimeapi.ContainerState_CONTAINER_RUNNING || st.Pid != task.Pid() || st.StartedAt.IsZero() {
				t.Fatalf("started container: %+v", st)
			}
			task.exit(tc.code, "hello from app\n")
			st = e.waitExited(id)
			if st.State != runtimeapi.ContainerState_CONTAINER_EXITED || st.ExitCode != int32(tc.code) || st.Reason != tc.wantReason || st.Pid != 0 {
				t.Errorf("after exit %d: %v, code %d, reason %q, pid %d", tc.code, st.State, st.ExitCode, st.Reason, st.Pid)
			}
			if !st.FinishedAt.Equal(task.exitedAt) {
				t.Errorf("finished at %v, the process exited at %v", st.FinishedAt, task.exitedAt)
			}
			rec := e.f.storedStatus(t, id)
			if rec == nil || rec.State != runtimeapi.ContainerState_CONTAINER_EXITED || rec.ExitCode != int32(tc.code) || !rec.FinishedAt.Equal(task.exitedAt) {
				t.Errorf("containerd holds %+v", rec)
			}
			if e.f.task(id) != nil {
				t.Error("the exited task is left (its shim and mounts with it)")
			}
			e.eventually("fifo directory removed", func() bool {
				_, err := os.Stat(e.m.fifoDir(id))
				return os.IsNotExist(err)
			})
			log, err := os.ReadFile(filepath.Join(e.logDir, "app", "0.log"))
			if err != nil || !strings.Contains(string(log), " stdout F hello from app\n") {
				t.Errorf("CRI log %q, %v: the output is lost", log, err)
			}
		})
	}
}

// TestExitRecordedOnce: a container that exits by itself while it is being
// stopped has one exit: one Stopped event, one task deletion, one status.
func TestExitRecordedOnce(t *testing.T) {
	e := newEnv(t)
	sub := e.events.Subscribe(16)
	defer sub.Close()
	id, task := e.run("app")
	task.ignore(syscall.SIGTERM) // the stop waits out its grace period
	stopped := make(chan error, 1)
	go func() { stopped <- e.m.Stop(e.ctx(), id, time.Minute) }()
	e.eventually("SIGTERM sent", func() bool { return len(e.f.callLog("tasks.kill")) > 0 })
	task.exit(0, "")
	if err := <-stopped; err != nil {
		t.Fatalf("StopContainer: %v", err)
	}
	if err := e.m.Stop(e.ctx(), id, 0); err != nil {
		t.Fatalf("StopContainer again: %v", err)
	}
	e.waitExited(id)
	// The event follows the recording; a second would follow it closely.
	var kinds []lifecycle.Kind
	stops := 0
	quiet := time.After(10 * time.Second)
	for done := false; !done; {
		select {
		case ev := <-sub.C():
			kinds = append(kinds, ev.Kind)
			if ev.Kind == lifecycle.Stopped {
				if stops++; stops == 1 {
					quiet = time.After(200 * time.Millisecond)
				}
			}
		case <-quiet:
			done = true
		}
	}
	if stops != 1 {
		t.Errorf("events %v: %d Stopped, want 1", kinds, stops)
	}
	if n := len(e.f.callLog("tasks.delete")); n != 1 {
		t.Errorf("the task was deleted %d times", n)
	}
	if st := e.container(id).Status(); st.ExitCode != 0 || st.Reason != ReasonCompleted {
		t.Errorf("exit code %d, reason %q: the process's own exit, not the stop's", st.ExitCode, st.Reason)
	}
}

// TestStartCreatesTheTaskOnCreatesMounts: the berthd that created a
// container starts it on the rootfs mounts its Create prepared, with no
// call to containerd for them; one that recovered the container after a
// restart, which has not got them, asks containerd, and starts it all the
// same.
func TestStartCreatesTheTaskOnCreatesMounts(t *testing.T) {
	e := newEnv(t)
	id := e.create("app")
	if err := e.m.Start(e.ctx(), id); err != nil {
		t.Fatalf("StartContainer: %v", err)
	}
	if got := e.f.callLog("snapshots.mounts " + id); len(got) != 0 {
		t.Errorf("StartContainer after Create asked containerd %v; want Create's mounts used", got)
	}

	second := e.create("second")
	e.restart()
	if _, err := e.m.Recover(e.ctx()); err != nil {
		t.Fatalf("Recover: %v", err)
	}
	if err := e.m.Start(e.ctx(), second); err != nil {
		t.Fatalf("StartContainer of a recovered container: %v", err)
	}
	if got := e.f.callLog("snapshots.mounts " + second); len(got) != 1 {
		t.Errorf("StartContainer of a recovered container asked containerd for its mounts %d times, want 1", len(got))
	}
	if st := e.container(second).Status(); st.State != runtimeapi.ContainerState_CONTAINER_RUNNING {
		t.Errorf("recovered container after StartContainer: %v, want RUNNING", st.State)
	}
}
