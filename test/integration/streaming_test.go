package integration

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/berth-cri/berth/test/harness"
)

// crictlResult is one finished crictl command.
type crictlResult struct {
	stdout, stderr string
	exitCode       int
}

// crictl runs crictl against d with stdin, as a user at a shell would;
// crictl is the streaming client kubectl's libraries make (SPDY).
func crictl(t *testing.T, d *harness.Daemon, stdin string, args ...string) crictlResult {
	t.Helper()
	bin := filepath.Join(harness.BinDir(), "crictl")
	if _, err := os.Stat(bin); err != nil {
		t.Skip("crictl is not in _output/bin (hack/deps.sh)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append([]string{"--runtime-endpoint", "unix://" + d.Socket, "--timeout", "30s"}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		t.Fatalf("crictl %v: %v", args, err)
	}
	return crictlResult{stdout: out.String(), stderr: errOut.String(), exitCode: cmd.ProcessState.ExitCode()}
}

func TestStreaming(t *testing.T) {
	d, image := startWithBusybox(t)
	podID, podCfg := runPod(t, d)
	ctr := runContainer(t, d, podID, podCfg, ctrConfig(image))

	t.Run("ExecStdinEchoed", func(t *testing.T) {
		r := crictl(t, d, "hello through stdin\n", "exec", "-i", ctr, "cat")
		if r.exitCode != 0 || r.stdout != "hello through stdin\n" {
			t.Fatalf("exec -i cat = %q (stderr %q, exit %d), want the input back", r.stdout, r.stderr, r.exitCode)
		}
	})

	t.Run("ExecStreamsAndExitCode", func(t *testing.T) {
		r := crictl(t, d, "", "exec", ctr, "sh", "-c", "echo to-out; echo to-err >&2; exit 3")
		// crictl exits 1 and names the remote exit code, which reached it
		// over the session's error stream.
		if r.stdout != "to-out\n" || !strings.Contains(r.stderr, "to-err") || !strings.Contains(r.stderr, "exit code 3") {
			t.Fatalf("exec = stdout %q stderr %q exit %d, want to-out, to-err, 3", r.stdout, r.stderr, r.exitCode)
		}
	})

	t.Run("ExecTTYFollowsTheWindowSize", func(t *testing.T) {
		// crictl -t wants a terminal: script(1) gives it one, 33x101,
		// whose size crictl sends over the resize stream.
		bin := filepath.Join(harness.BinDir(), "crictl")
		line := fmt.Sprintf("stty rows 33 cols 101; %s --runtime-endpoint unix://%s exec -it %s sh -c 'tty; sleep 1; stty size; exit 4'", bin, d.Socket, ctr)
		out, _ := exec.Command("script", "-q", "-c", line, "/dev/null").CombinedOutput()
		if !strings.Contains(string(out), "/dev/pts/") || !strings.Contains(string(out), "33 101") || !strings.Contains(string(out), "exit code 4") {
			t.Fatalf("exec -it in a 33x101 terminal = %q, want a /dev/pts/ tty of 33 101 and exit code 4", out)
		}
	})

	t.Run("ExecEndsWhenTheClientGoesAway", func(t *testing.T) {
		cmd := exec.Command(filepath.Join(harness.BinDir(), "crictl"), "--runtime-endpoint", "unix://"+d.Socket, "exec", ctr, "sleep", "3601")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		running := func() bool { return strings.Contains(mustExec(t, d, ctr, "ps"), "sleep 3601") }
		d.WaitFor("the exec'd sleep to run", 10*time.Second, running)
		cmd.Process.Kill()
		cmd.Wait()
		d.WaitFor("the exec'd sleep to be killed with its session", 15*time.Second, func() bool { return !running() })
	})

	t.Run("ExecEndsWhenTheContainerExits", func(t *testing.T) {
		id := runContainer(t, d, podID, podCfg, ctrConfig(image))
		out := make(chan crictlResult, 1)
		go func() { out <- crictl(t, d, "", "exec", id, "sleep", "3602") }()
		d.WaitFor("the exec'd sleep to run", 10*time.Second, func() bool { return strings.Contains(mustExec(t, d, id, "ps"), "sleep 3602") })
		stopCtr(t, d, id)
		select {
		case <-out:
		case <-time.After(20 * time.Second):
			t.Fatal("the exec session outlived its container")
		}
	})

	t.Run("ExecNeedsARunningContainer", func(t *testing.T) {
		created := createContainer(t, d, podID, podCfg, ctrConfig(image))
		_, err := d.Runtime.Exec(ctxBG(t), &runtimeapi.ExecRequest{ContainerId: created, Cmd: []string{"true"}, Stdout: true})
		if status.Code(err) != codes.FailedPrecondition {
			t.Fatalf("Exec in a created container: %v, want FailedPrecondition", err)
		}
		_, err = d.Runtime.Exec(ctxBG(t), &runtimeapi.ExecRequest{ContainerId: "no-such-container", Cmd: []string{"true"}, Stdout: true})
		if status.Code(err) != codes.NotFound {
			t.Fatalf("Exec in an unknown container: %v, want NotFound", err)
		}
	})

	t.Run("URLIsLoopbackAndSingleUse", func(t *testing.T) {
		resp, err := d.Runtime.Exec(ctxBG(t), &runtimeapi.ExecRequest{ContainerId: ctr, Cmd: []string{"true"}, Stdout: true})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(resp.Url, "http://127.0.0.1:") || strings.HasPrefix(resp.Url, "http://127.0.0.1:0/") {
			t.Fatalf("exec URL %q, want a bound loopback port", resp.Url)
		}
	})

	t.Run("AttachStdinOnce", func(t *testing.T) {
		// A shell reading commands from stdin ends only at EOF, which the
		// client's closed stdin must become (critest's attach spec).
		cfg := ctrConfig(image, withCommand("/bin/sh"))
		cfg.Stdin, cfg.StdinOnce = true, true
		id := runContainer(t, d, podID, podCfg, cfg)
		r := crictl(t, d, "echo got attached-input\n", "attach", "-i", id)
		if !strings.Contains(r.stdout, "got attached-input") {
			t.Fatalf("attach -i = stdout %q stderr %q exit %d, want the container's answer", r.stdout, r.stderr, r.exitCode)
		}
		if st := waitExited(t, d, id, 20*time.Second); st.ExitCode != 0 {
			t.Fatalf("attached container exited %d, want 0", st.ExitCode)
		}
	})

	t.Run("AttachTTY", func(t *testing.T) {
		cfg := ctrConfig(image, withShell("while true; do echo tick; sleep 0.2; done"))
		cfg.Stdin, cfg.Tty = true, true
		id := runContainer(t, d, podID, podCfg, cfg)
		out := make(chan crictlResult, 1)
		go func() { out <- crictl(t, d, "", "attach", id) }()
		time.Sleep(2 * time.Second)
		stopCtr(t, d, id)
		select {
		case r := <-out:
			if !strings.Contains(r.stdout, "tick") {
				t.Fatalf("attach to a TTY container = %q (stderr %q), want its output", r.stdout, r.stderr)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("attach did not end when the container stopped")
		}
	})

	t.Run("PortForwardIntoThePodNetns", func(t *testing.T) {
		// The server listens on the pod's loopback only: the node cannot
		// reach it, so only a forwarder inside the netns can.
		l, _ := listenInPod(t, d, podID, "tcp", "127.0.0.1:0")
		serveGreeting(l, "hello from the pod")
		port := l.Addr().(*net.TCPAddr).Port
		if got := portForward(t, d, podID, port); got != "hello from the pod" {
			t.Fatalf("port-forward read %q", got)
		}
	})

	t.Run("PortForwardHostNetwork", func(t *testing.T) {
		hostPod, _ := runPod(t, d, withHostNetwork())
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		serveGreeting(l, "hello from the node")
		if got := portForward(t, d, hostPod, l.Addr().(*net.TCPAddr).Port); got != "hello from the node" {
			t.Fatalf("port-forward read %q", got)
		}
	})
}

func stopCtr(t *testing.T, d *harness.Daemon, id string) {
	t.Helper()
	ctx, cancel := ctxTimeout(30 * time.Second)
	defer cancel()
	if _, err := d.Runtime.StopContainer(ctx, &runtimeapi.StopContainerRequest{ContainerId: id, Timeout: 1}); err != nil {
		t.Fatalf("StopContainer: %v", err)
	}
}

// portForward runs crictl port-forward (with extra flags) to the pod's
// port and reads one line through it.
func portForward(t *testing.T, d *harness.Daemon, podID string, port int, extra ...string) string {
	t.Helper()
	local := freePort(t, "tcp")
	bin := filepath.Join(harness.BinDir(), "crictl")
	if _, err := os.Stat(bin); err != nil {
		t.Skip("crictl is not in _output/bin (hack/deps.sh)")
	}
	args := append(append([]string{"--runtime-endpoint", "unix://" + d.Socket, "port-forward"}, extra...), podID, fmt.Sprintf("%d:%d", local, port))
	cmd := exec.Command(bin, args...)
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
	}()
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(int(local)))
	var line string
	var err error
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if line, err = readLine(addr); err == nil || line != "" {
			return line
		}
	}
	t.Fatalf("port-forward: %v\n%s", err, logs.String())
	return ""
}
