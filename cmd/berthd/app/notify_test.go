package app

import (
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// notifySocket stands in for systemd: a unixgram socket named by
// NOTIFY_SOCKET, as systemd gives a Type=notify unit.
func notifySocket(t *testing.T) *net.UnixConn {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	t.Setenv("NOTIFY_SOCKET", path)
	return conn
}

func receive(t *testing.T, conn *net.UnixConn) []string {
	t.Helper()
	if err := conn.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	n, err := conn.Read(buf)
	if err != nil {
		t.Fatalf("systemd got no notification: %v", err)
	}
	return strings.Split(string(buf[:n]), "\n")
}

func TestNotifyTellsSystemdReadyAndStopping(t *testing.T) {
	conn := notifySocket(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))

	notifyReady(log, "/run/berth/berth.sock")
	got := receive(t, conn)
	if !slices.Contains(got, "READY=1") || !slices.Contains(got, "STATUS=serving CRI on /run/berth/berth.sock") {
		t.Errorf("ready notification = %q", got)
	}
	notifyStopping(log)
	if got := receive(t, conn); !slices.Contains(got, "STOPPING=1") {
		t.Errorf("stopping notification = %q", got)
	}
}

func TestNotifyWithoutSystemdDoesNothing(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	var logged strings.Builder
	notifyReady(slog.New(slog.NewTextHandler(&logged, nil)), "/run/berth/berth.sock")
	if logged.Len() != 0 {
		t.Errorf("notify without NOTIFY_SOCKET logged: %s", logged.String())
	}
}

func TestNotifyFailureIsOnlyAWarning(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", filepath.Join(t.TempDir(), "gone.sock"))
	var logged strings.Builder
	notifyReady(slog.New(slog.NewTextHandler(&logged, nil)), "/run/berth/berth.sock")
	if !strings.Contains(logged.String(), "level=WARN") || !strings.Contains(logged.String(), "cannot notify systemd") {
		t.Errorf("a notify socket that is gone should be a warning, logged: %q", logged.String())
	}
}

func TestEmbeddedContainerdDoesNotGetTheNotifySocket(t *testing.T) {
	notifySocket(t)
	for _, kv := range childEnv("/opt/shim", "/opt/runc") {
		if strings.HasPrefix(kv, "NOTIFY_SOCKET=") {
			t.Fatalf("containerd would notify systemd before berthd is ready: %s", kv)
		}
	}
}

// Re-executing for an upgrade is a reload to systemd: RELOADING=1 with the
// monotonic time it requires, READY=1 coming from the new process image.
func TestNotifyReloadingCarriesTheMonotonicTime(t *testing.T) {
	conn := notifySocket(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	notifyReloading(log, "/usr/local/bin/berthd")
	got := receive(t, conn)
	if !slices.Contains(got, "RELOADING=1") || !slices.Contains(got, "STATUS=re-executing /usr/local/bin/berthd") {
		t.Errorf("reloading notification = %q", got)
	}
	if !slices.ContainsFunc(got, func(l string) bool {
		v, ok := strings.CutPrefix(l, "MONOTONIC_USEC=")
		return ok && v != "" && v != "0" && strings.Trim(v, "0123456789") == ""
	}) {
		t.Errorf("reloading notification without MONOTONIC_USEC: %q", got)
	}
}
