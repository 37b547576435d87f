package integration

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berth-cri/berth/test/harness"
)

// TestSystemdIsToldReadyByBerthdAlone runs berthd as systemd runs
// berth.service (Type=notify): with NOTIFY_SOCKET naming a socket of the
// test's. systemd must hear READY=1 from berthd once it serves, not from the
// embedded containerd, which notifies on its own when it can, and
// STOPPING=1 at shutdown.
func TestSystemdIsToldReadyByBerthdAlone(t *testing.T) {
	harness.RequireRoot(t)
	path := filepath.Join(t.TempDir(), "notify.sock")
	sock, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer sock.Close()
	t.Setenv("NOTIFY_SOCKET", path) // berthd inherits the test's environment

	d := harness.Start(t) // returns once RuntimeReady
	// Everything sent up to now: berthd's READY=1 and nothing else.
	if got := notifications(t, sock); len(got) != 1 || !strings.Contains(got[0], "READY=1") {
		t.Fatalf("systemd was told %q by the time berthd served; want berthd's READY=1 alone", got)
	}

	environ, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", d.ContainerdPID()))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(environ, []byte("NOTIFY_SOCKET=")) {
		t.Error("the embedded containerd has NOTIFY_SOCKET: it could tell systemd it is ready before berthd is")
	}

	if err := d.Stop(); err != nil {
		t.Fatal(err)
	}
	if got := notifications(t, sock); len(got) != 1 || !strings.Contains(got[0], "STOPPING=1") {
		t.Errorf("at shutdown systemd was told %q; want STOPPING=1", got)
	}
}

// notifications reads the datagrams waiting on sock.
func notifications(t *testing.T, sock *net.UnixConn) []string {
	t.Helper()
	var got []string
	buf := make([]byte, 4096)
	for {
		if err := sock.SetReadDeadline(time.Now().Add(500 * time.Millisecond)); err != nil {
			t.Fatal(err)
		}
		n, err := sock.Read(buf)
		if err != nil {
			return got
		}
		got = append(got, string(buf[:n]))
	}
}
