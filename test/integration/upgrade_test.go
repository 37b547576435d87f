package integration

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/berth-cri/berth/test/harness"
)

// criLoop calls Version and ListPodSandbox every 50 ms, as kubelet's PLEG
// and status loops do, over one connection (which berthd's shutdown sends
// a GOAWAY on), and dials the socket afresh each round too, as crictl
// does. Every failure is recorded.
type criLoop struct {
	mu     sync.Mutex
	calls  int
	errors []string
	// slowest is the longest round: how long calls waited in the socket's
	// backlog for the new berthd.
	slowest time.Duration
	stop    chan struct{}
	done    chan struct{}
}

func startCRILoop(t *testing.T, socket string) *criLoop {
	t.Helper()
	conn, err := grpc.NewClient("unix://"+socket, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	rt := runtimeapi.NewRuntimeServiceClient(conn)
	l := &criLoop{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(l.done)
		defer conn.Close()
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-l.stop:
				return
			case <-tick.C:
			}
			var errs []string
			start := time.Now()
			if c, err := net.DialTimeout("unix", socket, time.Second); err != nil {
				errs = append(errs, "dial: "+err.Error())
			} else {
				c.Close()
			}
			// kubelet's runtime request timeout is 2 min; 30 s is ample.
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			if _, err := rt.Version(ctx, &runtimeapi.VersionRequest{}); err != nil {
				errs = append(errs, "Version: "+err.Error())
			}
			if _, err := rt.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{}); err != nil {
				errs = append(errs, "ListPodSandbox: "+err.Error())
			}
			cancel()
			l.mu.Lock()
			l.slowest = max(l.slowest, time.Since(start))
			l.calls++
			l.errors = append(l.errors, errs...)
			l.mu.Unlock()
		}
	}()
	return l
}

func (l *criLoop) finish() (calls int, errors []string, slowest time.Duration) {
	close(l.stop)
	<-l.done
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.calls, l.errors, l.slowest
}

// SIGUSR2 makes berthd re-execute its binary in place (the DaemonSet
// installer's upgrade): the same process keeps the CRI socket open, adopts
// its containerd and pods, and a client calling every 50 ms meanwhile sees
// no error, not even a refused connection.
func TestUpgradeSignalReexecutesWithoutDowntime(t *testing.T) {
	d, image := startWithBusybox(t)
	podID, podCfg := runPod(t, d)
	ip := podIP(t, d, podID)
	ctrID := runContainer(t, d, podID, podCfg, ctrConfig(image))
	berthdPID, containerdPID := d.PID(), d.ContainerdPID()
	if data, err := os.ReadFile(filepath.Join(d.State, "berthd.pid")); err != nil || strings.TrimSpace(string(data)) != strconv.Itoa(berthdPID) {
		t.Fatalf("berthd.pid in the state dir holds %q (%v), berthd is %d", data, err, berthdPID)
	}

	loop := startCRILoop(t, d.Socket)
	time.Sleep(300 * time.Millisecond) // a few rounds before
	if err := syscall.Kill(berthdPID, syscall.SIGUSR2); err != nil {
		t.Fatal(err)
	}
	d.WaitFor("the re-executed berthd ready", 60*time.Second, func() bool {
		return strings.Count(d.Log(), "berthd is ready") == 2
	})
	time.Sleep(500 * time.Millisecond) // a few rounds after
	calls, errs, slowest := loop.finish()
	if len(errs) > 0 {
		t.Errorf("%d of %d rounds of CRI calls failed during the upgrade; first: %s", len(errs), calls, errs[0])
	}
	t.Logf("%d rounds of Version and ListPodSandbox during the upgrade, %d errors; the slowest took %v", calls, len(errs), slowest.Round(time.Millisecond))

	log := d.Log()
	for _, want := range []string{"upgrading: shutting down to re-execute", "took over the CRI socket", "adopted the containerd a previous berthd left running"} {
		if !strings.Contains(log, want) {
			t.Errorf("berthd's log lacks %q", want)
		}
	}
	if !harness.ProcessAlive(berthdPID) {
		t.Fatalf("berthd %d is gone after the upgrade", berthdPID)
	}
	if got := d.ContainerdPID(); got != containerdPID {
		t.Errorf("containerd is %d after the upgrade, was %d: it was restarted, not adopted", got, containerdPID)
	}
	if got := podStatus(t, d, podID).Status; got.State != runtimeapi.PodSandboxState_SANDBOX_READY || got.GetNetwork().GetIp() != ip {
		t.Errorf("pod after the upgrade: %v %s, before: ready %s", got.State, got.GetNetwork().GetIp(), ip)
	}
	if st := ctrStatus(t, d, ctrID).Status; st.State != runtimeapi.ContainerState_CONTAINER_RUNNING {
		t.Errorf("container %s is %v after the upgrade", ctrID[:12], st.State)
	}
	// Served by the new process image: a new pod starts.
	runPod(t, d)
}

// A binary that does not run is not executed: berthd stays up as it was.
func TestUpgradeSignalKeepsBerthdWhenTheBinaryIsBroken(t *testing.T) {
	harness.RequireRoot(t)
	dir := t.TempDir()
	exe := filepath.Join(dir, "berthd")
	data, err := os.ReadFile(harness.Bin(t, "berthd"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(exe, data, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, b := range []string{"containerd", "containerd-shim-runc-v2", "runc", "berth-pause"} {
		if err := os.Symlink(harness.Bin(t, b), filepath.Join(dir, b)); err != nil {
			t.Fatal(err)
		}
	}
	d := harness.Start(t, harness.WithBinary(exe))
	// As a failed install would leave it.
	if err := os.WriteFile(exe+".new", []byte("#!/bin/sh\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(exe+".new", exe); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(d.PID(), syscall.SIGUSR2); err != nil {
		t.Fatal(err)
	}
	d.WaitFor("berthd refusing the upgrade", 20*time.Second, func() bool {
		return strings.Contains(d.Log(), "not upgrading: the installed binary does not run")
	})
	ctx, cancel := ctxTimeout(10 * time.Second)
	defer cancel()
	if _, err := d.Runtime.Version(ctx, &runtimeapi.VersionRequest{}); err != nil {
		t.Fatalf("berthd stopped serving after refusing the upgrade: %v", err)
	}
	if strings.Contains(d.Log(), "berthd shutting down") || strings.Contains(d.Log(), "upgrading: shutting down") {
		t.Fatal("berthd shut down for a binary that does not run")
	}
}
