package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-cri/berth/cri"
	"github.com/berth-cri/berth/internal/unixsock"
)

// Upgrading in place: on upgradeSignal berthd checks that the binary now
// installed where it was started from runs, shuts down as on SIGTERM but
// leaves its containerd running (supervisor.Release) and keeps the CRI
// socket open, then executes that binary in its own process (same PID, so
// a systemd unit or pid file still names it), handing it the socket's
// descriptor in listenFDEnv. The new berthd adopts the containerd and its
// pods as after any restart, and accepts on the socket only once it is
// ready: kubelet's calls made meanwhile wait in the socket's backlog
// instead of being refused or answered "not ready".
const (
	upgradeSignal = syscall.SIGUSR2
	// listenFDEnv is "<fd>:<socket path>", set only across the exec.
	listenFDEnv = "BERTH_LISTEN_FD"
	// binaryCheckTimeout bounds `berthd --version` of the new binary.
	binaryCheckTimeout = 10 * time.Second
)

// handover is what a berthd passes to the binary it re-executes.
type handover struct {
	exe    string
	socket string
	file   *os.File // the listening CRI socket
}

// errOtherSocket: the socket handed on is not the one configured now.
var errOtherSocket = errors.New("handed on another socket")

// criListener returns the CRI socket a previous berthd handed on, or a new
// one. inherited tells the caller to accept only once ready.
func criListener(path string, log *slog.Logger) (l net.Listener, inherited bool, err error) {
	v, ok := os.LookupEnv(listenFDEnv)
	if !ok {
		l, err = cri.Listen(path)
		return l, false, err
	}
	// Not for containerd, runc or anything else berthd starts.
	_ = os.Unsetenv(listenFDEnv) // fails only for an invalid name
	f, err := inheritedSocket(v, path)
	if errors.Is(err, errOtherSocket) {
		// The configuration moved the socket with the upgrade: serve
		// where it says now. kubelet, still pointed at the old path,
		// finds nobody there, as after any restart.
		log.Warn("not taking over the CRI socket handed on", "error", err)
		l, err = cri.Listen(path)
		return l, false, err
	}
	if err != nil {
		return nil, false, err
	}
	l, err = unixsock.FromFile(f, path)
	return l, err == nil, err
}

// inheritedSocket parses listenFDEnv's value. A descriptor handed on for
// another socket path (the configuration changed with the upgrade) is
// closed and refused with errOtherSocket: the new berthd must serve where
// its configuration says.
func inheritedSocket(v, path string) (*os.File, error) {
	fdText, handedPath, ok := strings.Cut(v, ":")
	fd, err := strconv.Atoi(fdText)
	if !ok || err != nil || fd < 3 {
		return nil, fmt.Errorf("%s=%q: want <fd>:<socket path>", listenFDEnv, v)
	}
	f := os.NewFile(uintptr(fd), handedPath)
	if handedPath != path {
		f.Close()
		return nil, fmt.Errorf("%w: the previous berthd served %s, the configuration says %s", errOtherSocket, handedPath, path)
	}
	return f, nil
}

// checkBinary runs `exe --version`: a binary that cannot even do that is
// not worth shutting down for.
func checkBinary(ctx context.Context, exe string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, binaryCheckTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, exe, "--version").CombinedOutput()
	first, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	if err != nil {
		return first, fmt.Errorf("%s --version: %w (%s)", exe, err, first)
	}
	return first, nil
}

// prepareHandover duplicates the CRI listener's descriptor, so that
// closing the listener at shutdown leaves the socket open and in place.
func prepareHandover(l net.Listener, exe, socket string) (*handover, error) {
	fl, ok := l.(interface{ File() (*os.File, error) })
	if !ok {
		return nil, fmt.Errorf("the CRI listener %T cannot be handed on", l)
	}
	f, err := fl.File()
	if err != nil {
		return nil, fmt.Errorf("duplicate the CRI socket: %w", err)
	}
	return &handover{exe: exe, socket: socket, file: f}, nil
}

// exec replaces this process with h.exe; it returns only on failure.
func (h *handover) exec() error {
	fd := h.file.Fd()
	// Kept open across the exec, and only this one.
	if _, err := unix.FcntlInt(fd, unix.F_SETFD, 0); err != nil {
		return fmt.Errorf("pass the CRI socket on: %w", err)
	}
	env := []string{}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, listenFDEnv+"=") {
			env = append(env, kv)
		}
	}
	env = append(env, fmt.Sprintf("%s=%d:%s", listenFDEnv, fd, h.socket))
	return syscall.Exec(h.exe, os.Args, env) //nolint:gosec // berthd re-executes its own installed binary (checked with --version first), with its own arguments
}
