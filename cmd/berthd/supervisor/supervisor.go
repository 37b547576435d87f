package supervisor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

const (
	// A containerd that stayed up this long is healthy again: the next crash
	// starts the backoff from the beginning.
	stableAfter    = 30 * time.Second
	initialBackoff = 100 * time.Millisecond
	maxBackoff     = 10 * time.Second
	stopGrace      = 10 * time.Second
)

// Supervisor owns one embedded containerd process and its restarts.
type Supervisor struct {
	cfg Config

	mu       sync.Mutex
	pid      int           // the current containerd; 0 before the first start
	status   string        // how the current process ended, once exited is closed
	exited   chan struct{} // closed when the current process has ended
	stopping bool
	released bool // by Release: containerd left running, not waited for

	restarts int
	stop     chan struct{} // closed by Stop: ends the monitor's backoff early
	done     chan struct{} // closed when the monitor returns
}

// Start writes containerd's config, starts it and waits until it serves.
// The returned Supervisor restarts containerd whenever it dies, until Stop.
func Start(ctx context.Context, cfg Config) (*Supervisor, error) {
	// Read before writing: a containerd left running by a berthd that was
	// killed may be adopted only if it runs with the config we would write.
	previous, _ := os.ReadFile(cfg.configPath())
	if err := cfg.writeFiles(); err != nil {
		return nil, fmt.Errorf("prepare containerd files: %w", err)
	}
	s := &Supervisor{cfg: cfg, stop: make(chan struct{}), done: make(chan struct{})}
	if !s.adoptLeftover(ctx, string(previous) == cfg.render()) {
		if err := s.startProcess(); err != nil {
			return nil, err
		}
	}
	if err := waitServing(ctx, cfg.Address(), cfg.StartTimeout, s.currentExited()); err != nil {
		s.mu.Lock()
		s.stopping = true
		s.mu.Unlock()
		s.terminate()
		return nil, fmt.Errorf("containerd did not serve (its log: %s): %w", cfg.LogPath, err)
	}
	cfg.Logger.Info("containerd is serving", "address", cfg.Address(), "pid", s.PID(), "log", cfg.LogPath)
	go s.monitor()
	return s, nil
}

// Address is the gRPC socket of the supervised containerd.
func (s *Supervisor) Address() string { return s.cfg.Address() }

// PID is the current containerd process ID (0 while none runs).
func (s *Supervisor) PID() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pid
}

// Restarts counts how often containerd was restarted after dying.
func (s *Supervisor) Restarts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.restarts
}

// Stop terminates containerd (SIGTERM, then SIGKILL after a grace period)
// and ends supervision. Shims and their containers keep running.
func (s *Supervisor) Stop() {
	s.mu.Lock()
	if s.released {
		s.mu.Unlock()
		return
	}
	if s.stopping {
		s.mu.Unlock()
		<-s.done
		return
	}
	s.stopping = true
	close(s.stop)
	s.mu.Unlock()
	s.terminate()
	<-s.done
	os.Remove(s.cfg.pidPath())
}

// Release ends supervision and leaves containerd running, its pid file in
// place, for the next berthd on these directories to adopt: berthd calls it
// instead of Stop when it re-executes itself for an upgrade, so no task,
// shim or container notices. Stop after Release does nothing.
func (s *Supervisor) Release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopping {
		return
	}
	s.stopping, s.released = true, true
	close(s.stop)
}

func (s *Supervisor) startProcess() error {
	logFile, err := os.OpenFile(s.cfg.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("open containerd log: %w", err)
	}
	defer logFile.Close() // the child holds its own copy

	cmd := exec.Command(s.cfg.Binary, "--config", s.cfg.configPath())
	cmd.Env = s.cfg.Env
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// Its own process group: a Ctrl-C on berthd's terminal must not reach
	// containerd directly; berthd stops it in order. No Pdeathsig: it fires
	// when the forking OS thread exits, which Go does not control.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start containerd %s: %w", s.cfg.Binary, err)
	}
	exited := make(chan struct{})
	s.mu.Lock()
	s.pid, s.exited = cmd.Process.Pid, exited
	s.mu.Unlock()
	// Every process has its own reaper, so terminate can wait for any of
	// them, including a first one that never served.
	go func() {
		_ = cmd.Wait()
		s.mu.Lock()
		s.status = cmd.ProcessState.String()
		s.mu.Unlock()
		close(exited)
	}()
	if err := os.WriteFile(s.cfg.pidPath(), []byte(strconv.Itoa(cmd.Process.Pid)), 0o600); err != nil {
		s.cfg.Logger.Warn("cannot record containerd's pid", "error", err)
	}
	return nil
}

// monitor reaps containerd and restarts it until Stop.
func (s *Supervisor) monitor() {
	defer close(s.done)
	backoff := initialBackoff
	for {
		s.mu.Lock()
		pid, exited := s.pid, s.exited
		s.mu.Unlock()
		started := time.Now()
		<-exited

		s.mu.Lock()
		stopping := s.stopping
		s.mu.Unlock()
		if stopping {
			return
		}
		if time.Since(started) > stableAfter {
			backoff = initialBackoff
		}
		s.mu.Lock()
		status := s.status
		s.mu.Unlock()
		s.cfg.Logger.Error("containerd exited unexpectedly; restarting it",
			"pid", pid, "status", status, "after", backoff, "log", s.cfg.LogPath)
		select {
		case <-s.stop:
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, maxBackoff)

		for !s.restart() {
			select {
			case <-s.stop:
				return
			case <-time.After(backoff):
			}
			backoff = min(backoff*2, maxBackoff)
		}
	}
}

// restart starts a new containerd and waits for it; false means try again.
func (s *Supervisor) restart() bool {
	s.mu.Lock()
	if s.stopping {
		s.mu.Unlock()
		return true
	}
	s.restarts++
	s.mu.Unlock()
	if err := s.startProcess(); err != nil {
		s.cfg.Logger.Error("restarting containerd failed", "error", err)
		return false
	}
	// Stop must not wait out the start timeout of a containerd it has
	// already told to exit.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-s.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	if err := waitServing(ctx, s.cfg.Address(), s.cfg.StartTimeout, s.currentExited()); err != nil {
		// Leave it to the monitor: a containerd that never serves is killed
		// and started again.
		s.cfg.Logger.Error("restarted containerd does not serve; killing it", "error", err)
		s.signal(syscall.SIGKILL)
		return true
	}
	s.cfg.Logger.Info("containerd is serving again", "pid", s.PID(), "restarts", s.Restarts())
	return true
}

func (s *Supervisor) currentExited() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.exited
}

// terminate sends SIGTERM, then SIGKILL if containerd outlives the grace.
func (s *Supervisor) terminate() {
	s.mu.Lock()
	exited := s.exited
	s.mu.Unlock()
	if exited == nil {
		return
	}
	s.signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(stopGrace):
		s.cfg.Logger.Warn("containerd ignored SIGTERM; killing it", "grace", stopGrace)
		s.signal(syscall.SIGKILL)
		<-exited
	}
}

func (s *Supervisor) signal(sig syscall.Signal) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pid > 0 {
		select {
		case <-s.exited: // never signal a pid that may have been reused
		default:
			_ = syscall.Kill(s.pid, sig)
		}
	}
}

// adoptLeftover looks for the containerd an earlier berthd started on this
// state dir and did not stop (berthd was killed or upgraded). One that runs
// with the config this berthd wrote, and serves, is adopted as dockerd
// adopts its containerd: its tasks, including the exit statuses of
// containers that ended meanwhile, stay as they are. One with another config
// is stopped: two daemons on one root would corrupt it.
func (s *Supervisor) adoptLeftover(ctx context.Context, sameConfig bool) bool {
	pid := s.leftoverPID()
	if pid == 0 {
		return false
	}
	if sameConfig {
		if exited, err := watchExit(pid); err == nil {
			if waitServing(ctx, s.cfg.Address(), 5*time.Second, exited) == nil {
				s.mu.Lock()
				s.pid, s.exited, s.status = pid, exited, "exited (adopted, status unknown)"
				s.mu.Unlock()
				s.cfg.Logger.Info("adopted the containerd a previous berthd left running", "pid", pid)
				return true
			}
		}
	}
	s.cfg.Logger.Warn("stopping the containerd a previous berthd left running", "pid", pid, "sameConfig", sameConfig)
	_ = syscall.Kill(pid, syscall.SIGTERM)
	deadline := time.Now().Add(stopGrace)
	for alive(pid) {
		if time.Now().After(deadline) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			deadline = time.Now().Add(stopGrace)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return false
}

// leftoverPID is the pid in the pid file if that process is a containerd
// running with this supervisor's config path, else 0.
func (s *Supervisor) leftoverPID() int {
	data, err := os.ReadFile(s.cfg.pidPath())
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid <= 0 || !alive(pid) {
		return 0
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || !strings.Contains(string(cmdline), s.cfg.configPath()) {
		return 0
	}
	return pid
}

// watchExit returns a channel closed when pid, which no exec.Cmd of ours
// waits for, exits. A pidfd follows the process itself, so a reused pid
// cannot fool it. A berthd that re-executed itself is still the parent of
// the containerd it adopts, so the exit is also reaped here (ECHILD for a
// containerd that init inherited), or it would stay a zombie.
func watchExit(pid int) (chan struct{}, error) {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return nil, err
	}
	exited := make(chan struct{})
	go func() {
		defer unix.Close(fd)
		defer close(exited)
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		for {
			if _, err := unix.Poll(fds, -1); err != unix.EINTR {
				var ws unix.WaitStatus
				_, _ = unix.Wait4(pid, &ws, unix.WNOHANG, nil)
				return
			}
		}
	}()
	return exited, nil
}

func alive(pid int) bool {
	// A zombie is dead for our purpose; only its parent can reap it.
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
	return len(fields) > 0 && fields[0] != "Z"
}

// waitServing polls containerd's gRPC health service until it reports
// SERVING, the timeout passes, or the process exits (a nil exited is
// never closed).
func waitServing(ctx context.Context, address string, timeout time.Duration, exited <-chan struct{}) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	// gRPC's default reconnect backoff grows to minutes; a daemon that is
	// coming up must be noticed within a poll interval.
	conn, err := grpc.NewClient("unix://"+address,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: 20 * time.Millisecond, Multiplier: 1.5, MaxDelay: 250 * time.Millisecond},
			MinConnectTimeout: time.Second,
		}))
	if err != nil {
		return err
	}
	defer conn.Close()
	health := healthpb.NewHealthClient(conn)
	var last error
	for {
		callCtx, callCancel := context.WithTimeout(ctx, time.Second)
		resp, err := health.Check(callCtx, &healthpb.HealthCheckRequest{})
		callCancel()
		if err == nil && resp.GetStatus() == healthpb.HealthCheckResponse_SERVING {
			return nil
		}
		if err != nil {
			last = err
		}
		select {
		case <-ctx.Done():
			if last == nil {
				last = ctx.Err()
			}
			return errors.Join(ctx.Err(), last)
		case <-exited:
			return errors.New("containerd exited before it served")
		case <-time.After(50 * time.Millisecond):
		}
	}
}
