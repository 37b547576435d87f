package images

import (
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// These tests run the images the way critest does, inside namespaces,
// and check what critest checks. They need root.

func TestBusyboxImageCommands(t *testing.T) {
	needRoot(t)
	root := unpack(t, byRef(t, testBuild(t), "registry.k8s.io/e2e-test-images/busybox:1.29-2").Img)
	for _, tc := range []struct {
		name, script, stdout string
	}{
		{"echo", "echo -n hello", "hello"},
		{"id of root", "id -u; id -nu", "0\nroot\n"},
		// RunAsUsername "nobody" and the user images' "www-data" resolve
		// through the image's /etc/passwd.
		{"accounts", "id -u nobody; id -u www-data", "65534\n33\n"},
		{"supplementary groups", "id -G", "0\n"},
		// critest: "pgrep sleep || true" must print nothing once the
		// timed-out exec is gone, and nothing on stderr either.
		{"pgrep without a match", "pgrep sleep || true", ""},
		{"pgrep with a match", "sleep 30 & sleep 0.2; pgrep -x sleep >/dev/null && echo found; kill $!", "found\n"},
		{"ipcs", "ipcs -m >/dev/null && echo ok", "ok\n"},
		{"commands critest runs", "for c in sh ls cat top sleep touch hostname nc wget ping pidof netstat brctl mount seq grep chmod id ipcs pgrep; do command -v $c >/dev/null || echo missing $c; done", ""},
		{"top, the pause command", "top -b -n 1 | grep -c '^Mem:'", "1\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, err := inContainer(t, root, "", tc.script)
			if err != nil || stdout != tc.stdout || stderr != "" {
				t.Fatalf("%q: stdout %q stderr %q err %v, want stdout %q", tc.script, stdout, stderr, err, tc.stdout)
			}
		})
	}
}

// TestBusyboxMaskedLs reproduces critest's MaskedPaths spec: with /dev/null
// mounted over /bin/ls, "sh -c ls" must fail with exactly this message.
// A static busybox runs its own ls and passes the command; a symlinked
// applet would mask busybox itself.
func TestBusyboxMaskedLs(t *testing.T) {
	needRoot(t)
	root := unpack(t, byRef(t, testBuild(t), "registry.k8s.io/e2e-test-images/busybox:1.29-2").Img)
	_, stderr, err := inContainer(t, root, `mount --bind /dev/null "$0/bin/ls"`, "/bin/sh -c ls")
	if err == nil {
		t.Fatal("ls ran although /bin/ls is masked")
	}
	if stderr != "/bin/sh: ls: Permission denied\n" {
		t.Fatalf("stderr %q, want critest's %q", stderr, "/bin/sh: ls: Permission denied\n")
	}
	// Everything else still works: busybox itself is not masked.
	stdout, _, err := inContainer(t, root, `mount --bind /dev/null "$0/bin/ls"`, "echo still-here")
	if err != nil || stdout != "still-here\n" {
		t.Fatalf("shell with ls masked: %q %v", stdout, err)
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// TestNginxImage runs the image's entrypoint as PID 1 (on a free loopback
// port instead of :80) and checks what critest's namespace and networking
// specs look for.
func TestNginxImage(t *testing.T) {
	needRoot(t)
	img := byRef(t, testBuild(t), "registry.k8s.io/e2e-test-images/nginx:1.14-2").Img
	root := unpack(t, img)
	port := freePort(t)
	entry := configOf(t, img).Config.Entrypoint
	quoted := make([]string, len(entry))
	for i, a := range entry {
		quoted[i] = "'" + a + "'"
	}
	cmd := strings.Join(quoted, " ") + fmt.Sprintf(" -listen 127.0.0.1:%d", port)

	// The shell execs the server so it becomes PID 1, as in a container
	// with its own PID namespace; a checker runs beside it.
	script := fmt.Sprintf(`(
		while [ ! -f /var/run/nginx.pid ]; do sleep 0.1; done
		echo "pidfile=$(cat /var/run/nginx.pid)"
		echo "pidof=$(pidof nginx)"
		grep -q "master process" /proc/1/cmdline && echo master-process
		wget -qO- http://127.0.0.1:%d/ | grep -q "Welcome to nginx!" && echo welcome
		kill -TERM 1
	) >/tmp/report 2>&1 &
	exec %s`, port, cmd)
	_, stderr, err := inContainer(t, root, "", script)
	if err != nil {
		t.Fatalf("nginx stand-in: %v: %s", err, stderr)
	}
	report, rerr := readFileIn(root, "tmp/report")
	if rerr != nil {
		t.Fatal(rerr)
	}
	want := "pidfile=1\npidof=1\nmaster-process\nwelcome\n"
	if report != want {
		t.Fatalf("report %q, want %q (stderr %q)", report, want, stderr)
	}
}

func readFileIn(root, p string) (string, error) {
	b, err := exec.Command("cat", filepath.Join(root, p)).Output()
	return string(b), err
}

func TestHTTPDImageLogsItsName(t *testing.T) {
	needRoot(t)
	img := byRef(t, testBuild(t), "registry.k8s.io/e2e-test-images/httpd:2.4.39-4").Img
	root := unpack(t, img)
	port := freePort(t)
	script := fmt.Sprintf(`httpd -listen 127.0.0.1:%d -root /usr/local/apache2/htdocs -name httpd & 
		until wget -qO- http://127.0.0.1:%d/ >/tmp/page 2>/dev/null; do sleep 0.1; done
		kill %%1; wait; cat /tmp/page`, port, port)
	// httpd is found through the image's PATH.
	script = "export " + configOf(t, img).Config.Env[0] + "; " + script
	stdout, stderr, err := inContainer(t, root, "", script)
	if err != nil {
		t.Fatalf("%v: %s", err, stderr)
	}
	if !strings.Contains(stdout, "It works!") {
		t.Fatalf("page %q", stdout)
	}
	if !strings.Contains(stderr, "httpd") {
		t.Fatalf("log %q does not say httpd; critest's container log spec looks for it", stderr)
	}
}

// TestNonewprivsImage checks the set-user-ID program under both settings
// of no_new_privs, run as uid 1000 like critest's NoNewPrivs specs.
func TestNonewprivsImage(t *testing.T) {
	needRoot(t)
	if _, err := exec.LookPath("setpriv"); err != nil {
		t.Skip("needs setpriv (util-linux)")
	}
	root := unpack(t, byRef(t, testBuild(t), "registry.k8s.io/e2e-test-images/nonewprivs:1.3").Img)
	for _, tc := range []struct {
		name string
		nnp  bool
		want string
	}{
		{"privilege escalation allowed", false, "Effective uid: 0\n"},
		{"no new privileges", true, "Effective uid: 1000\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{"--userspec=1000:1000", root, "/usr/local/bin/nnp"}
			name := "chroot"
			if tc.nnp {
				args = append([]string{"--no-new-privs", "chroot"}, args...)
				name = "setpriv"
			}
			out, err := exec.Command(name, args...).CombinedOutput()
			if err != nil || string(out) != tc.want {
				t.Fatalf("got %q (%v), want %q", out, err, tc.want)
			}
		})
	}
}

func TestPredefinedGroupImage(t *testing.T) {
	needRoot(t)
	root := unpack(t, byRef(t, testBuild(t), "gcr.io/k8s-staging-cri-tools/test-image-predefined-group:latest").Img)
	stdout, stderr, err := inContainer(t, root, "", "id -G default-user; ls /etc/passwd")
	if err != nil || stdout != "1000 50000\n/etc/passwd\n" {
		t.Fatalf("stdout %q stderr %q err %v", stdout, stderr, err)
	}
}

func TestPauseImageRunsAsPID1(t *testing.T) {
	needRoot(t)
	img := byRef(t, testBuild(t), PauseRef).Img
	root := unpack(t, img)
	entries, err := filepath.Glob(filepath.Join(root, "*"))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || filepath.Base(entries[0]) != "pause" {
		t.Fatalf("pause image holds %v, want only /pause", entries)
	}
	// No shell in this image: start /pause directly as PID 1 and stop it
	// as a runtime does.
	cmd := exec.Command("unshare", "--pid", "--fork", "--mount", "--propagation", "private", "chroot", root, "/pause")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	time.Sleep(300 * time.Millisecond)
	// unshare forwards nothing; signal pause itself, found as unshare's
	// child.
	kids, err := exec.Command("pgrep", "-P", fmt.Sprint(cmd.Process.Pid)).Output()
	if err != nil {
		t.Fatalf("finding pause: %v", err)
	}
	if err := exec.Command("kill", "-TERM", strings.TrimSpace(string(kids))).Run(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("pause ended with %v, want exit 0", err)
		}
	case <-time.After(5 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("pause did not stop on SIGTERM")
	}
}

// TestBusyboxPingWithoutNetRaw is critest's dropped-capability spec: ping
// must fail, having printed its banner, with "permission denied".
func TestBusyboxPingWithoutNetRaw(t *testing.T) {
	needRoot(t)
	if _, err := exec.LookPath("setpriv"); err != nil {
		t.Skip("needs setpriv (util-linux)")
	}
	root := unpack(t, byRef(t, testBuild(t), "registry.k8s.io/e2e-test-images/busybox:1.29-2").Img)
	cmd := exec.Command("setpriv", "--bounding-set", "-net_raw", "--inh-caps", "-net_raw",
		"chroot", root, "/bin/ping", "-c", "1", "127.0.0.1")
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err == nil || stdout.String() == "" || !strings.Contains(stderr.String(), "permission denied") {
		t.Fatalf("err %v stdout %q stderr %q; want a failure with a banner and permission denied", err, stdout.String(), stderr.String())
	}
}
