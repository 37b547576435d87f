package supervisor

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// The test binary doubles as a fake containerd: it reads the grpc address
// from the config berthd wrote and serves the health service there, which is
// all the supervisor relies on.
func TestMain(m *testing.M) {
	if os.Getenv("BERTH_FAKE_CONTAINERD") == "1" {
		fakeContainerd()
		return
	}
	os.Exit(m.Run())
}

func fakeContainerd() {
	data, err := os.ReadFile(os.Args[len(os.Args)-1])
	if err != nil {
		os.Exit(3)
	}
	addr := regexp.MustCompile(`(?m)^\[plugins\."io\.containerd\.server\.v1\.grpc"\]\n  address = "([^"]+)"`).FindSubmatch(data)
	if addr == nil {
		os.Exit(4)
	}
	os.Remove(string(addr[1]))
	l, err := net.Listen("unix", string(addr[1]))
	if err != nil {
		os.Exit(5)
	}
	srv := grpc.NewServer()
	healthpb.RegisterHealthServer(srv, health.NewServer())
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM)
	go func() {
		<-sigs
		srv.Stop()
	}()
	_ = srv.Serve(l)
}

func testConfig(t *testing.T) Config {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	return Config{
		Binary:        self,
		Root:          filepath.Join(dir, "root"),
		State:         filepath.Join(dir, "state"),
		ShimSocketDir: filepath.Join(dir, "s"),
		NRISocket:     filepath.Join(dir, "nri.sock"),
		LogLevel:      "warn",
		LogPath:       filepath.Join(dir, "containerd.log"),
		StartTimeout:  10 * time.Second,
		Env:           append(os.Environ(), "BERTH_FAKE_CONTAINERD=1"),
		Logger:        slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
}

func TestRestartsContainerdAfterKill(t *testing.T) {
	s, err := Start(context.Background(), testConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	first := s.PID()
	if err := syscall.Kill(first, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for s.Restarts() == 0 || s.PID() == first || waitServing(context.Background(), s.Address(), 200*time.Millisecond, nil) != nil {
		if time.Now().After(deadline) {
			t.Fatalf("containerd not restarted: restarts=%d pid=%d (was %d)", s.Restarts(), s.PID(), first)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestStopEndsContainerdAndSupervision(t *testing.T) {
	s, err := Start(context.Background(), testConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	pid := s.PID()
	s.Stop()
	if alive(pid) {
		t.Fatalf("containerd %d still running after Stop", pid)
	}
	time.Sleep(3 * initialBackoff)
	if s.Restarts() != 0 {
		t.Fatalf("a stopped supervisor restarted containerd %d times", s.Restarts())
	}
	s.Stop() // idempotent
}

func TestStartFailsFastWhenContainerdExits(t *testing.T) {
	cfg := testConfig(t)
	cfg.Env = append(os.Environ(), "BERTH_FAKE_CONTAINERD=0") // the test binary runs tests instead of serving
	cfg.Binary = "/bin/false"                                 // exits at once
	cfg.StartTimeout = 30 * time.Second
	start := time.Now()
	_, err := Start(context.Background(), cfg)
	if err == nil || !strings.Contains(err.Error(), "exited before it served") || !strings.Contains(err.Error(), cfg.LogPath) {
		t.Fatalf("want an error naming the log, got %v", err)
	}
	if time.Since(start) > 2*time.Second {
		t.Fatalf("Start took %v for a containerd that exited at once", time.Since(start))
	}
}

// startLeftover starts a containerd as a berthd that was then killed
// would have left it: running with cfg's config, named in the pid file.
func startLeftover(t *testing.T, cfg Config) (pid int, reaped chan struct{}) {
	t.Helper()
	if err := cfg.writeFiles(); err != nil {
		t.Fatal(err)
	}
	leftover := exec.Command(cfg.Binary, "--config", cfg.configPath())
	leftover.Env = cfg.Env
	if err := leftover.Start(); err != nil {
		t.Fatal(err)
	}
	reaped = make(chan struct{})
	go func() { _ = leftover.Wait(); close(reaped) }() // killed: its exit status says nothing
	t.Cleanup(func() {
		_ = leftover.Process.Kill() // fails only if it already exited
		<-reaped
	})
	if err := os.WriteFile(cfg.pidPath(), []byte(strconv.Itoa(leftover.Process.Pid)), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := waitServing(context.Background(), cfg.Address(), 10*time.Second, nil); err != nil {
		t.Fatal(err)
	}
	return leftover.Process.Pid, reaped
}

func TestAdoptsTheContainerdAPreviousBerthdLeft(t *testing.T) {
	cfg := testConfig(t)
	leftover, reaped := startLeftover(t, cfg)

	s, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	if s.PID() != leftover {
		t.Fatalf("started containerd %d instead of adopting %d: its tasks would be lost", s.PID(), leftover)
	}
	// An adopted containerd is supervised like one of our own.
	if err := syscall.Kill(leftover, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-reaped
	deadline := time.Now().Add(10 * time.Second)
	for s.Restarts() == 0 || s.PID() == leftover || waitServing(context.Background(), s.Address(), 200*time.Millisecond, nil) != nil {
		if time.Now().After(deadline) {
			t.Fatalf("adopted containerd not restarted after it died: restarts=%d", s.Restarts())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestReplacesALeftoverWithAnotherConfig(t *testing.T) {
	old := testConfig(t)
	old.LogLevel = "debug"
	leftover, reaped := startLeftover(t, old)

	cfg := old
	cfg.LogLevel = "warn"
	s, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	select {
	case <-reaped:
	case <-time.After(time.Second):
		t.Fatalf("leftover containerd %d, started with another config, still runs beside %d", leftover, s.PID())
	}
	if s.PID() == leftover {
		t.Fatal("adopted a containerd running with another config")
	}
}

func TestRenderKeepsEverythingUnderBerthsDirs(t *testing.T) {
	cfg := testConfig(t)
	cfg.UnpackPlatform, cfg.UnpackSnapshotter = "linux/amd64", "overlayfs"
	out := cfg.render()
	for _, want := range []string{
		`socket_dir = "` + cfg.ShimSocketDir + `"`,
		`address = "` + filepath.Join(cfg.State, "containerd.sock") + `"`,
		`"io.containerd.grpc.v1.cri"`,
		`socket_path = "` + cfg.NRISocket + `"`,
		"[[plugins.\"io.containerd.transfer.v1.local\".unpack_config]]\n    platform = \"linux/amd64\"\n    snapshotter = \"overlayfs\"",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("containerd config lacks %s:\n%s", want, out)
		}
	}
	if strings.Contains(out, "/run/containerd") || strings.Contains(out, "/var/lib/containerd") {
		t.Errorf("containerd config points at the host containerd's dirs:\n%s", out)
	}
}

func TestStopDuringARestartIsPrompt(t *testing.T) {
	for i := 0; i < 5; i++ { // the race window is narrow; give it several chances
		s, err := Start(context.Background(), testConfig(t))
		if err != nil {
			t.Fatal(err)
		}
		first := s.PID()
		if err := syscall.Kill(first, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		for s.Restarts() == 0 { // the monitor is now starting a new containerd
			time.Sleep(5 * time.Millisecond)
		}
		start := time.Now()
		s.Stop()
		if took := time.Since(start); took > 3*time.Second {
			t.Fatalf("Stop took %v while containerd was being restarted", took)
		}
		if pid := s.PID(); pid != 0 && alive(pid) {
			t.Fatalf("containerd %d outlived Stop", pid)
		}
	}
}

// Release is what berthd does before re-executing itself: containerd keeps
// running, and the next supervisor on the same directories adopts that very
// process rather than starting another.
func TestReleaseLeavesContainerdForTheNextToAdopt(t *testing.T) {
	cfg := testConfig(t)
	s, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	pid := s.PID()
	s.Release()
	s.Stop() // after Release: nothing to do, and prompt
	if !alive(pid) {
		t.Fatalf("containerd %d did not outlive Release", pid)
	}
	if err := waitServing(context.Background(), cfg.Address(), 2*time.Second, nil); err != nil {
		t.Fatalf("released containerd stopped serving: %v", err)
	}

	next, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(next.Stop)
	if next.PID() != pid {
		t.Fatalf("the next supervisor runs containerd %d, not the released %d", next.PID(), pid)
	}
}

// After berthd re-executes itself, the containerd it adopts is its own
// child that no exec.Cmd waits for: when it dies, the supervisor must reap
// it, or every crash would leave a zombie behind.
func TestReapsAnAdoptedChild(t *testing.T) {
	cfg := testConfig(t)
	if err := cfg.writeFiles(); err != nil {
		t.Fatal(err)
	}
	// Forked without exec.Cmd, as the re-executed berthd finds it.
	pid, err := syscall.ForkExec(cfg.Binary, []string{cfg.Binary, "--config", cfg.configPath()},
		&syscall.ProcAttr{Env: cfg.Env, Files: []uintptr{0, 1, 2}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGKILL); _, _ = syscall.Wait4(pid, nil, syscall.WNOHANG, nil) })
	if err := os.WriteFile(cfg.pidPath(), []byte(strconv.Itoa(pid)), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := waitServing(context.Background(), cfg.Address(), 10*time.Second, nil); err != nil {
		t.Fatal(err)
	}
	s, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	if s.PID() != pid {
		t.Fatalf("started containerd %d instead of adopting its child %d", s.PID(), pid)
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
	deadline := time.Now().Add(10 * time.Second)
	for {
		// A zombie keeps its /proc entry until reaped.
		if _, err := os.Stat("/proc/" + strconv.Itoa(pid)); os.IsNotExist(err) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("adopted child %d not reaped 10 s after it died", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
