package procsig

import (
	"errors"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"
)

func TestParseStartTime(t *testing.T) {
	for _, tc := range []struct {
		name string
		line string
		want uint64
		bad  bool
	}{
		{name: "plain", line: "42 (sleep) S 1 42 42 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 987654 2269184 129 18446744073709551615", want: 987654},
		{name: "name with spaces and parentheses", line: "7 (a) (b c) R 1 7 7 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 12 0 0", want: 12},
		{name: "no parenthesis", line: "7 sleep S 1", bad: true},
		{name: "truncated", line: "7 (sleep) S 1 7 7", bad: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseStartTime([]byte(tc.line))
			if tc.bad {
				if err == nil {
					t.Fatalf("parsed %d from a malformed line", got)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %d, %v; want %d", got, err, tc.want)
			}
		})
	}
}

// startSleep starts a process that only a signal ends, and returns a
// channel that yields its wait status once it has been reaped.
func startSleep(t *testing.T) (*exec.Cmd, <-chan error) {
	t.Helper()
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	return cmd, done
}

func TestSignalReachesTheProcessItIdentified(t *testing.T) {
	cmd, done := startSleep(t)
	p, err := Identify(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		var exitErr *exec.ExitError
		if !errors.As(err, &exitErr) || exitErr.Sys().(syscall.WaitStatus).Signal() != syscall.SIGTERM {
			t.Fatalf("sleep ended with %v, not by SIGTERM", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("sleep still runs 10s after SIGTERM")
	}
	if err := p.Signal(syscall.SIGKILL); !errors.Is(err, ErrGone) {
		t.Fatalf("signal to a reaped process: %v, want ErrGone", err)
	}
}

func TestSignalSparesAProcessWithAnotherStartTime(t *testing.T) {
	// The PID of a process that exited may name a new one: same PID,
	// another start time. That process must not be signalled.
	cmd, done := startSleep(t)
	p, err := Identify(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	p.Start++
	if err := p.Signal(syscall.SIGKILL); !errors.Is(err, ErrGone) {
		t.Fatalf("got %v, want ErrGone", err)
	}
	select {
	case err := <-done:
		t.Fatalf("the process with the other start time was killed: %v", err)
	case <-time.After(200 * time.Millisecond):
	}
}

func TestIdentifyAnExitedProcess(t *testing.T) {
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	if _, err := Identify(cmd.Process.Pid); !errors.Is(err, ErrGone) {
		t.Fatalf("got %v, want ErrGone", err)
	}
}

func TestSignalWithoutIdentityIsUnsupported(t *testing.T) {
	if err := (Process{}).Signal(syscall.SIGKILL); !errors.Is(err, errors.ErrUnsupported) {
		t.Fatalf("got %v, want errors.ErrUnsupported", err)
	}
}

func TestParentIsReadOnlyWhileTheProcessRuns(t *testing.T) {
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p, err := Identify(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := p.Parent(); err != nil || got != os.Getpid() {
		t.Errorf("Parent() = %d, %v; want this test's PID %d", got, err, os.Getpid())
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	if got, err := p.Parent(); !errors.Is(err, ErrGone) {
		t.Errorf("Parent() of an exited process = %d, %v; want ErrGone", got, err)
	}
	if _, err := (Process{}).Parent(); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("Parent() without identity: got %v, want errors.ErrUnsupported", err)
	}
}

func TestPolicyOffIdentifiesNothing(t *testing.T) {
	cmd, _ := startSleep(t)
	pid := uint32(cmd.Process.Pid)
	if p := (Policy{}).Identify(pid); p.PID != int(pid) || p.Start == 0 {
		t.Errorf("Identify with direct signals on = %+v, want the process", p)
	}
	p := Policy{Off: true}.Identify(pid)
	if err := p.Signal(syscall.SIGKILL); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("Signal of a process identified with direct signals off: %v, want errors.ErrUnsupported", err)
	}
}
