package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/berth-cri/berth/test/harness"
)

// externalContainerd is a containerd the test runs itself, for berthd's
// --containerd-address mode.
type externalContainerd struct {
	t      *testing.T
	dir    string
	socket string
	cmd    *exec.Cmd
	exited chan struct{}
}

func startExternalContainerd(t *testing.T) *externalContainerd {
	t.Helper()
	dir, err := os.MkdirTemp("/run", "bx-") // short: the shim socket dir has a length limit
	if err != nil {
		t.Fatal(err)
	}
	c := &externalContainerd{t: t, dir: dir, socket: filepath.Join(dir, "containerd.sock")}
	config := fmt.Sprintf(`version = 4
root = %q
state = %q
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.cri.v1.runtime", "io.containerd.cri.v1.images", "io.containerd.podsandbox.controller.v1.podsandbox"]
[plugins."io.containerd.server.v1.grpc"]
  address = %q
[plugins."io.containerd.server.v1.ttrpc"]
  address = %q
[plugins."io.containerd.shim.v1.manager"]
  socket_dir = %q
[plugins."io.containerd.nri.v1.nri"]
  disable = true
`, filepath.Join(dir, "root"), filepath.Join(dir, "state"), c.socket, c.socket+".ttrpc", filepath.Join(dir, "s"))
	if err := os.WriteFile(filepath.Join(dir, "config.toml"), []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	c.start()
	t.Cleanup(func() {
		c.kill()
		os.RemoveAll(dir)
	})
	return c
}

func (c *externalContainerd) start() {
	c.t.Helper()
	log, err := os.OpenFile(filepath.Join(c.dir, "containerd.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		c.t.Fatal(err)
	}
	defer log.Close()
	c.cmd = exec.Command(harness.Bin(c.t, "containerd"), "--config", filepath.Join(c.dir, "config.toml"))
	c.cmd.Env = append(os.Environ(), "PATH="+harness.BinDir()+":"+os.Getenv("PATH"))
	c.cmd.Stdout, c.cmd.Stderr = log, log
	if err := c.cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	c.exited = make(chan struct{})
	go func(cmd *exec.Cmd, exited chan struct{}) { cmd.Wait(); close(exited) }(c.cmd, c.exited)
	for i := 0; i < 100; i++ {
		if _, err := os.Stat(c.socket); err == nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	c.t.Fatal("external containerd did not create its socket")
}

func (c *externalContainerd) kill() {
	select {
	case <-c.exited:
	default:
		c.cmd.Process.Kill()
		<-c.exited
	}
}

func TestContainerdOutageAnswersUnavailableAndPodsSurvive(t *testing.T) {
	ctrd := startExternalContainerd(t)
	d := harness.Start(t, harness.WithArgs("--containerd-address", ctrd.socket))
	pod, _ := runPod(t, d)
	ip := podIP(t, d, pod)
	pausePid := func() int {
		var info struct {
			Pid int `json:"pid"`
		}
		decodeInfo(t, podStatus(t, d, pod).Info["info"], &info)
		return info.Pid
	}
	pid := pausePid()

	ctrd.kill()
	ctx, cancel := ctxTimeout(20 * time.Second)
	defer cancel()
	start := time.Now()
	_, err := d.Runtime.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: podConfig()})
	if status.Code(err) != codes.Unavailable {
		t.Fatalf("RunPodSandbox while containerd is down: want Unavailable, got %v", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("RunPodSandbox took %v to fail while containerd is down: it must not hang", took)
	}
	d.WaitFor("RuntimeReady=false while containerd is down", 10*time.Second, func() bool {
		c := runtimeStatus(t, d)[runtimeapi.RuntimeReady]
		return !c.Status && c.Reason == "ContainerdUnavailable"
	})
	// Reads are served from memory meanwhile.
	if st := podStatus(t, d, pod).Status; st.State != runtimeapi.PodSandboxState_SANDBOX_READY || st.Network.Ip != ip {
		t.Fatalf("pod during the outage: %v %s", st.State, st.Network.Ip)
	}

	ctrd.start()
	d.WaitFor("RuntimeReady again", 15*time.Second, func() bool {
		return runtimeStatus(t, d)[runtimeapi.RuntimeReady].Status
	})
	// The pod kept running through the outage (its shim does not depend on
	// containerd); it is torn down as usual by runPod's cleanup, and new pods
	// start.
	if got := pausePid(); got != pid || !harness.ProcessAlive(pid) {
		t.Fatalf("pause process %d did not survive the outage (now %d)", pid, got)
	}
	runPod(t, d)
}
