package integration

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/berth-cri/berth/test/harness"
)

// terminal is crictl running in a pseudo-terminal, as a user at a shell
// runs it: crictl -t puts the terminal in raw mode, forwards keystrokes
// and follows the window size on SIGWINCH.
type terminal struct {
	t    *testing.T
	cmd  *exec.Cmd
	ptmx *os.File

	mu   sync.Mutex
	out  bytes.Buffer
	done chan struct{}
	err  error // crictl's exit, once done is closed
	// drained is closed once everything crictl wrote has been read: its
	// last words (the exit code) may still be in the terminal when it
	// has already exited.
	drained chan struct{}
}

// startTerminal runs crictl with args in a new terminal of rows x cols.
func startTerminal(t *testing.T, d *harness.Daemon, rows, cols uint16, args ...string) *terminal {
	t.Helper()
	bin := filepath.Join(harness.BinDir(), "crictl")
	if _, err := os.Stat(bin); err != nil {
		t.Skip("crictl is not in _output/bin (hack/deps.sh)")
	}
	cmd := exec.Command(bin, append([]string{"--runtime-endpoint", "unix://" + d.Socket}, args...)...)
	ptmx, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: rows, Cols: cols})
	if err != nil {
		t.Fatalf("starting crictl in a terminal: %v", err)
	}
	term := &terminal{t: t, cmd: cmd, ptmx: ptmx, done: make(chan struct{}), drained: make(chan struct{})}
	go func() {
		defer close(term.drained)
		buf := make([]byte, 4096)
		for {
			n, err := ptmx.Read(buf)
			term.mu.Lock()
			term.out.Write(buf[:n])
			term.mu.Unlock()
			if err != nil {
				return // EIO once crictl and every holder of the tty are gone
			}
		}
	}()
	go func() {
		term.err = cmd.Wait()
		close(term.done)
	}()
	t.Cleanup(func() {
		select {
		case <-term.done:
		default:
			cmd.Process.Kill()
			<-term.done
		}
		ptmx.Close()
	})
	return term
}

// screen is everything the terminal showed so far.
func (term *terminal) screen() string {
	term.mu.Lock()
	defer term.mu.Unlock()
	return term.out.String()
}

// typeLine types a line and Enter.
func (term *terminal) typeLine(line string) {
	term.t.Helper()
	if _, err := io.WriteString(term.ptmx, line+"\r"); err != nil {
		term.t.Fatalf("typing %q: %v", line, err)
	}
}

// waitFor waits for want to show on the screen.
func (term *terminal) waitFor(want string, timeout time.Duration) {
	term.t.Helper()
	deadline := time.Now().Add(timeout)
	for !strings.Contains(term.screen(), want) {
		if time.Now().After(deadline) {
			term.t.Fatalf("%q never showed in the terminal; it shows:\n%s", want, term.screen())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// resize changes the window size, which the kernel signals to crictl
// (SIGWINCH) as to any foreground program.
func (term *terminal) resize(rows, cols uint16) {
	term.t.Helper()
	if err := pty.Setsize(term.ptmx, &pty.Winsize{Rows: rows, Cols: cols}); err != nil {
		term.t.Fatalf("resizing the terminal: %v", err)
	}
}

// wait waits for crictl to end and returns its exit code.
func (term *terminal) wait(timeout time.Duration) int {
	term.t.Helper()
	select {
	case <-term.done:
	case <-time.After(timeout):
		term.t.Fatalf("crictl did not end; the terminal shows:\n%s", term.screen())
	}
	select {
	case <-term.drained:
	case <-time.After(5 * time.Second): // a process crictl left holds the tty
	}
	var exitErr *exec.ExitError
	if term.err != nil && !errors.As(term.err, &exitErr) {
		term.t.Fatalf("crictl: %v", term.err)
	}
	return term.cmd.ProcessState.ExitCode()
}

// checkSize asks the shell behind the terminal for its size until it
// reports rows x cols: the resize travels to crictl, over the stream and
// into the container's tty, and that takes a moment.
func (term *terminal) checkSize(rows, cols int) {
	term.t.Helper()
	want := fmt.Sprintf("SIZE=%d,%d.", rows, cols)
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(term.screen(), want) {
		if time.Now().After(deadline) {
			term.t.Fatalf("the container's tty never reported %dx%d; the terminal shows:\n%s", rows, cols, term.screen())
		}
		// The typed line holds no digits of the answer: only the
		// shell's output can match.
		term.typeLine(`stty size | { read r c; echo "SIZE=$r,$c."; }`)
		time.Sleep(300 * time.Millisecond)
	}
}

func TestCrictlInteractive(t *testing.T) {
	d, image := startWithBusybox(t)
	podID, podCfg := runPod(t, d)

	t.Run("ExecTTYShell", func(t *testing.T) {
		ctr := runContainer(t, d, podID, podCfg, ctrConfig(image))
		term := startTerminal(t, d, 24, 80, "exec", "-it", ctr, "sh")
		term.typeLine("echo product=$((6*7))")
		term.waitFor("product=42", 15*time.Second)
		term.typeLine("tty")
		term.waitFor("/dev/pts/", 5*time.Second)
		term.checkSize(24, 80)
		term.resize(40, 132)
		term.checkSize(40, 132)
		term.typeLine("exit 7")
		if code := term.wait(15 * time.Second); code == 0 || !strings.Contains(term.screen(), "exit code 7") {
			t.Fatalf("crictl exited %d after the shell's exit 7, want non-zero and the code named; screen:\n%s", code, term.screen())
		}
	})

	t.Run("AttachTTYShell", func(t *testing.T) {
		cfg := ctrConfig(image, withCommand("sh"))
		cfg.Stdin, cfg.Tty = true, true
		ctr := runContainer(t, d, podID, podCfg, cfg)
		term := startTerminal(t, d, 30, 100, "attach", "-it", ctr)
		// Attaching shows nothing until the shell has something to say.
		term.typeLine("echo attached=$((2+3))")
		term.waitFor("attached=5", 15*time.Second)
		term.checkSize(30, 100)
		term.resize(50, 160)
		term.checkSize(50, 160)
		term.typeLine("exit 5")
		term.wait(15 * time.Second)
		if st := waitExited(t, d, ctr, 20*time.Second); st.ExitCode != 5 {
			t.Fatalf("the attached shell's container exited %d, want 5", st.ExitCode)
		}
	})
}

func TestCrictlPortForwardToWebserver(t *testing.T) {
	reg := harness.StartRegistry(t)
	d := harness.Start(t, harness.WithRegistryConfigDir(reg.HostsDir))
	const nginx = "registry.k8s.io/e2e-test-images/nginx:1.14-2"
	image := mustPull(t, d, nginx)
	pod, cfg := runPod(t, d)
	runContainer(t, d, pod, cfg, ctrConfig(image, func(c *runtimeapi.ContainerConfig) {
		c.Command = nil // the image's own entrypoint: the web server on :80
		c.Image.UserSpecifiedImage = nginx
	}))

	local := freePort(t, "tcp")
	term := startTerminal(t, d, 24, 80, "port-forward", pod, fmt.Sprintf("%d:80", local))
	term.waitFor("Forwarding from 127.0.0.1:", 15*time.Second)
	url := fmt.Sprintf("http://127.0.0.1:%d/", local)
	var body string
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		resp, err := (&http.Client{Timeout: 3 * time.Second}).Get(url)
		if err != nil {
			continue
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if body = string(b); resp.StatusCode == http.StatusOK && strings.Contains(body, "Welcome to nginx!") {
			return
		}
	}
	t.Fatalf("GET %s through crictl port-forward = %q; crictl shows:\n%s", url, body, term.screen())
}

func TestCrictlStats(t *testing.T) {
	d, image := startWithBusybox(t)
	podID, podCfg := runPod(t, d)
	name := "stats-" + podCfg.Metadata.Name
	cfg := ctrConfig(image, withShell("while :; do :; done"))
	cfg.Metadata.Name = name
	ctr := runContainer(t, d, podID, podCfg, cfg)

	// crictl samples twice, a second apart, for CPU %.
	out, err := d.Crictl("stats", "--id", ctr)
	if err != nil {
		t.Fatal(err)
	}
	if got := column(t, out, ctr[:13], "NAME"); got != name {
		t.Errorf("crictl stats names the container %q, want %q:\n%s", got, name, out)
	}
	if cpu := column(t, out, ctr[:13], "CPU %"); !busy(cpu) {
		t.Errorf("crictl stats shows CPU %s%% for a spinning container, want at least 5:\n%s", cpu, out)
	}
	if mem := column(t, out, ctr[:13], "MEM"); mem == "" || mem == "0B" {
		t.Errorf("crictl stats shows memory %q:\n%s", mem, out)
	}

	out, err = d.Crictl("statsp", "--id", podID)
	if err != nil {
		t.Fatal(err)
	}
	if got := column(t, out, podID[:13], "POD"); got != podCfg.Metadata.Name {
		t.Errorf("crictl statsp names the pod %q, want %q:\n%s", got, podCfg.Metadata.Name, out)
	}
	if cpu := column(t, out, podID[:13], "CPU %"); !busy(cpu) {
		t.Errorf("crictl statsp shows CPU %s%% for a pod with a spinning container, want at least 5:\n%s", cpu, out)
	}
}

// column reads one cell of a crictl table: the row holding key, under
// header (columns are aligned to the header's).
func column(t *testing.T, out, key, header string) string {
	t.Helper()
	lines := strings.Split(out, "\n")
	for i, head := range lines {
		// crictl clears the screen before the table (ESC[2J ESC[H).
		if esc := strings.LastIndex(head, "\x1b[H"); esc >= 0 {
			head = head[esc+3:]
		}
		at := strings.Index(head, header)
		if at < 0 || (at > 0 && head[at-1] != ' ') {
			continue
		}
		for _, row := range lines[i+1:] {
			if strings.Contains(row, key) && len(row) > at {
				fields := strings.Fields(row[at:])
				if len(fields) > 0 {
					return fields[0]
				}
			}
		}
	}
	t.Fatalf("no %q cell for %q in:\n%s", header, key, out)
	return ""
}

// busy reports whether a CPU % cell is at least 5: a spinning shell on a
// node shared with a load of 10 still gets that; an idle one shows 0.
func busy(cell string) bool {
	var v float64
	_, err := fmt.Sscanf(cell, "%g", &v)
	return err == nil && v >= 5
}
