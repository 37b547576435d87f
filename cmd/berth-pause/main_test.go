package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// pauseBin is the berth-pause binary built once for every test here, so the
// tests see the program as a container runtime starts it.
var pauseBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "berth-pause-test-")
	if err != nil {
		panic(err)
	}
	pauseBin = filepath.Join(dir, "berth-pause")
	build := exec.Command("go", "build", "-o", pauseBin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		panic("building berth-pause: " + err.Error() + "\n" + string(out))
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func TestVersionAndArguments(t *testing.T) {
	for _, tc := range []struct {
		name     string
		args     []string
		wantCode int
		wantOut  string
	}{
		{name: "version", args: []string{"-v"}, wantCode: 0, wantOut: "berth-pause " + version + "\n"},
		{name: "stray argument", args: []string{"sleep"}, wantCode: 2},
		{name: "unknown flag", args: []string{"-x"}, wantCode: 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			cmd := exec.Command(pauseBin, tc.args...)
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			code := 0
			var exitErr *exec.ExitError
			if errors.As(err, &exitErr) {
				code = exitErr.ExitCode()
			} else if err != nil {
				t.Fatalf("running berth-pause: %v", err)
			}
			if code != tc.wantCode {
				t.Fatalf("exit code = %d, want %d (stderr %q)", code, tc.wantCode, stderr.String())
			}
			if tc.wantOut != "" && stdout.String() != tc.wantOut {
				t.Fatalf("stdout = %q, want %q", stdout.String(), tc.wantOut)
			}
		})
	}
}

func TestStopSignalsExitZeroPromptly(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			cmd := exec.Command(pauseBin)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()

			// It must still be running: pause never exits on its own.
			select {
			case err := <-done:
				t.Fatalf("berth-pause exited by itself: %v", err)
			case <-time.After(300 * time.Millisecond):
			}

			sent := time.Now()
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("after %v berth-pause ended with %v, want exit status 0", sig, err)
				}
				if took := time.Since(sent); took > time.Second {
					t.Fatalf("berth-pause took %v to stop", took)
				}
			case <-time.After(5 * time.Second):
				_ = cmd.Process.Kill()
				t.Fatalf("berth-pause still running 5s after %v", sig)
			}
		})
	}
}

// TestReapsOrphansAsPID1 runs berth-pause as PID 1 of a new PID namespace,
// as a runtime does, and orphans a short-lived process into it the way an
// exec'd shell that backgrounds a job and exits does. The orphan must not
// stay behind as a zombie.
func TestReapsOrphansAsPID1(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to create a PID namespace")
	}
	nsenter, err := exec.LookPath("nsenter")
	if err != nil {
		t.Skip("needs nsenter (util-linux)")
	}

	pause := exec.Command(pauseBin)
	pause.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWPID}
	if err := pause.Start(); err != nil {
		t.Fatalf("starting berth-pause in a new PID namespace: %v", err)
	}
	t.Cleanup(func() {
		_ = pause.Process.Signal(syscall.SIGTERM)
		_ = pause.Wait()
	})
	time.Sleep(300 * time.Millisecond)

	// The orphan must not hold nsenter's output pipe: CombinedOutput would
	// wait for it to exit, and it would be reaped before the test saw it.
	enter := exec.Command(nsenter, "--target", strconv.Itoa(pause.Process.Pid), "--pid",
		"--", "/bin/sh", "-c", "sleep 60 </dev/null >/dev/null 2>&1 & exit 0")
	if out, err := enter.CombinedOutput(); err != nil {
		t.Fatalf("nsenter: %v: %s", err, out)
	}

	// The backgrounded sleep is now berth-pause's child...
	var orphan int
	waitFor(t, 2*time.Second, "the orphan to be re-parented to berth-pause", func() bool {
		kids := children(t, pause.Process.Pid)
		if len(kids) == 0 {
			return false
		}
		orphan = kids[0]
		return true
	})
	// ...and once it exits it must be reaped, not left as a zombie.
	if err := syscall.Kill(orphan, syscall.SIGKILL); err != nil {
		t.Fatalf("killing the orphan: %v", err)
	}
	waitFor(t, 5*time.Second, "the orphan to be reaped", func() bool {
		_, err := os.Stat(filepath.Join("/proc", strconv.Itoa(orphan)))
		return errors.Is(err, os.ErrNotExist)
	})
	if state := procState(orphan); state == "Z" {
		t.Fatalf("orphan %d is a zombie", orphan)
	}
}

func children(t *testing.T, pid int) []int {
	t.Helper()
	p := filepath.Join("/proc", strconv.Itoa(pid), "task", strconv.Itoa(pid), "children")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("reading %s: %v", p, err)
	}
	var pids []int
	for _, f := range strings.Fields(string(b)) {
		n, err := strconv.Atoi(f)
		if err != nil {
			t.Fatalf("bad pid %q in %s", f, p)
		}
		pids = append(pids, n)
	}
	return pids
}

func procState(pid int) string {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return ""
	}
	// The state follows the command name, which is in parentheses and may
	// itself contain spaces.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+3 > len(s) {
		return ""
	}
	return s[i+2 : i+3]
}

func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", limit, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
