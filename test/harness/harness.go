// Package harness starts a real berthd, with its embedded containerd, under
// temporary directories for integration tests, and hands out CRI clients
// connected over its unix socket. Everything it starts it stops in
// t.Cleanup, and it checks that nothing stays behind.
//
// It needs root and the binaries `make build deps` puts in _output/bin
// (BERTH_BIN_DIR overrides where). BERTH_BERTHD names another berthd to
// run, such as the race-enabled one of `make build-race`: a data race it
// reports in its log fails the test that started it.
package harness

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// DefaultConflist is a bridge network on a bridge and subnet of the
// daemon's own, so tests never touch a real node's pod network, nor each
// other's when they run side by side. Start fills in the placeholders.
const DefaultConflist = `{
  "cniVersion": "1.0.0",
  "name": "berth-test",
  "plugins": [
    {"type": "bridge", "bridge": "BRIDGE", "isGateway": true, "ipMasq": false, "hairpinMode": true,
     "ipam": {"type": "host-local", "ranges": [[{"subnet": "SUBNET"}]], "dataDir": "IPAMDIR"}},
    {"type": "portmap", "capabilities": {"portMappings": true}, "snat": true}
  ]
}`

// Daemon is a running berthd.
type Daemon struct {
	Dir        string // everything of this daemon lives below it
	Root       string
	State      string
	Socket     string
	CNIConfDir string
	LogPath    string
	// Bridge and Subnet are this daemon's pod network; IPAMDir is
	// host-local's data dir for it.
	Bridge  string
	Subnet  netip.Prefix
	IPAMDir string

	Runtime runtimeapi.RuntimeServiceClient
	Images  runtimeapi.ImageServiceClient

	t       *testing.T
	cmd     *exec.Cmd
	conn    *grpc.ClientConn
	exited  chan struct{}
	mu      sync.Mutex
	stopped bool
	args    []string // the extra flags, for Restart
	binary  string   // berthd's binary; empty: the built one
}

type options struct {
	conflist *string
	args     []string
	config   string
	binary   string
}

// Option changes how Start runs berthd.
type Option func(*options)

// WithoutNetworkConfig starts berthd with an empty CNI conf dir.
func WithoutNetworkConfig() Option { return func(o *options) { empty := ""; o.conflist = &empty } }

// WithNetworkConfig starts berthd with conflist instead of DefaultConflist;
// BRIDGE, SUBNET and IPAMDIR in it are replaced by the daemon's own.
func WithNetworkConfig(conflist string) Option {
	return func(o *options) { o.conflist = &conflist }
}

// WithBinary runs this berthd binary instead of the built one; berthd
// looks for containerd, its shim, runc and berth-pause beside it first.
func WithBinary(path string) Option { return func(o *options) { o.binary = path } }

// WithArgs adds berthd flags.
func WithArgs(args ...string) Option { return func(o *options) { o.args = append(o.args, args...) } }

// CrunHandler is the second runtime handler every daemon has: crun.
const CrunHandler = "crun"

// CrunRuntime is the table that configures it, appended to every daemon's
// configuration file; its state is under the daemon's state dir.
const CrunRuntime = "\n[runtimes.crun]\nbinary = 'crun'\n"

// WithConfig starts berthd with this configuration file (TOML); flags the
// harness passes still override it. CrunRuntime is appended to it.
func WithConfig(toml string) Option { return func(o *options) { o.config = toml } }

// WithRegistryConfigDir points berthd at a hosts.toml directory, such as
// Registry.HostsDir.
func WithRegistryConfigDir(dir string) Option {
	return WithArgs("--registry-config-dir", dir)
}

// BinDir is where the built binaries are.
func BinDir() string {
	if d := os.Getenv("BERTH_BIN_DIR"); d != "" {
		return d
	}
	return filepath.Join(moduleRoot(), "_output", "bin")
}

// CNIBinDir is where the built CNI plugins are.
func CNIBinDir() string {
	if d := os.Getenv("BERTH_CNI_BIN_DIR"); d != "" {
		return d
	}
	return filepath.Join(moduleRoot(), "_output", "cni", "bin")
}

// Bin is the path of a built binary; the test fails if it is missing.
func Bin(t *testing.T, name string) string {
	t.Helper()
	p := filepath.Join(BinDir(), name)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("%s is not built (run make build deps): %v", p, err)
	}
	return p
}

// RequireRoot skips a test that cannot run unprivileged.
func RequireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("integration tests drive containerd, runc and CNI: they need root")
	}
}

// Start runs berthd and waits until it reports ready.
func Start(t *testing.T, opts ...Option) *Daemon {
	t.Helper()
	RequireRoot(t)
	o := &options{}
	for _, opt := range opts {
		opt(o)
	}
	// Under /run, and short: containerd's shim socket dir must stay within
	// 38 characters.
	dir, err := os.MkdirTemp("/run", "bt-")
	if err != nil {
		t.Fatal(err)
	}
	// Searchable by all, as berthd makes its own root and state: a pod
	// with a user namespace runs as an unprivileged node UID, which must
	// reach its rootfs under the state directory.
	if err := os.Chmod(dir, 0o711); err != nil {
		t.Fatal(err)
	}
	d := &Daemon{
		Dir: dir, Root: filepath.Join(dir, "root"), State: filepath.Join(dir, "st"),
		Socket: filepath.Join(dir, "berth.sock"), CNIConfDir: filepath.Join(dir, "net.d"),
		LogPath: filepath.Join(dir, "berthd.log"), t: t, exited: make(chan struct{}),
	}
	if err := os.MkdirAll(d.CNIConfDir, 0o755); err != nil {
		t.Fatal(err)
	}
	suffix := filepath.Base(dir)[len("bt-"):]
	d.Bridge = "bt" + suffix[:min(len(suffix), 10)]
	d.Subnet = netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 100 + byte(rand.IntN(100)), byte(rand.IntN(256)), 0}), 24)
	d.IPAMDir = filepath.Join(dir, "ipam")
	conflist := DefaultConflist
	if o.conflist != nil {
		conflist = *o.conflist
	}
	conflist = strings.NewReplacer("BRIDGE", d.Bridge, "SUBNET", d.Subnet.String(), "IPAMDIR", d.IPAMDir).Replace(conflist)
	if conflist != "" {
		d.WriteNetworkConfig(conflist)
	}
	// Every daemon serves crun (Debian's package, make deps) as a second
	// runtime handler beside runc, the default.
	if err := os.WriteFile(filepath.Join(dir, "config.toml"), []byte(o.config+CrunRuntime), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.cleanup)
	d.args, d.binary = o.args, o.binary
	d.start(o.args)
	return d
}

// WriteNetworkConfig puts conflist into the daemon's CNI conf dir.
func (d *Daemon) WriteNetworkConfig(conflist string) {
	d.t.Helper()
	if err := os.WriteFile(filepath.Join(d.CNIConfDir, "10-test.conflist"), []byte(conflist), 0o644); err != nil {
		d.t.Fatal(err)
	}
}

func (d *Daemon) start(extra []string) {
	t := d.t
	t.Helper()
	args := append([]string{
		"--config", filepath.Join(d.Dir, "config.toml"),
		"--root", d.Root, "--state", d.State, "--socket", d.Socket,
		"--cni-conf-dir", d.CNIConfDir, "--cni-bin-dir", CNIBinDir(),
		"--log-level", "debug",
	}, extra...)
	logFile, err := os.OpenFile(d.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	binary := d.binary
	if binary == "" {
		binary = berthdPath(t)
	}
	d.cmd = exec.Command(binary, args...)
	d.cmd.Stdout, d.cmd.Stderr = logFile, logFile
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	d.exited = make(chan struct{})
	go func(cmd *exec.Cmd, exited chan struct{}) { cmd.Wait(); close(exited) }(d.cmd, d.exited)

	conn, err := grpc.NewClient("unix://"+d.Socket, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	d.conn = conn
	d.Runtime = runtimeapi.NewRuntimeServiceClient(conn)
	d.Images = runtimeapi.NewImageServiceClient(conn)
	d.WaitFor("berthd ready", 60*time.Second, func() bool {
		resp, err := d.Runtime.Status(context.Background(), &runtimeapi.StatusRequest{})
		return err == nil && condition(resp, runtimeapi.RuntimeReady)
	})
}

func condition(resp *runtimeapi.StatusResponse, typ string) bool {
	for _, c := range resp.GetStatus().GetConditions() {
		if c.Type == typ {
			return c.Status
		}
	}
	return false
}

// WaitFor polls cond until it holds, failing the test with the daemon's
// log after timeout.
func (d *Daemon) WaitFor(what string, timeout time.Duration, cond func() bool) {
	d.t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		select {
		case <-d.exited:
			d.t.Fatalf("berthd exited while waiting for %s; its log:\n%s", what, d.Log())
		default:
		}
		if time.Now().After(deadline) {
			d.t.Fatalf("timed out after %v waiting for %s; berthd's log:\n%s", timeout, what, d.Log())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Log returns berthd's log so far.
func (d *Daemon) Log() string {
	data, _ := os.ReadFile(d.LogPath)
	return string(data)
}

// PID is berthd's process ID.
func (d *Daemon) PID() int { return d.cmd.Process.Pid }

// ContainerdPID is the embedded containerd's process ID, from its pid file.
func (d *Daemon) ContainerdPID() int {
	data, err := os.ReadFile(filepath.Join(d.State, "containerd", "containerd.pid"))
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(data)))
	return pid
}

// Stop sends SIGTERM and waits for berthd to exit; it returns the exit
// error (nil for a clean exit).
func (d *Daemon) Stop() error {
	d.mu.Lock()
	if d.stopped {
		d.mu.Unlock()
		return nil
	}
	d.stopped = true
	d.mu.Unlock()
	if d.conn != nil {
		d.conn.Close()
	}
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.exited:
	case <-time.After(30 * time.Second):
		_ = d.cmd.Process.Kill()
		<-d.exited
		return fmt.Errorf("berthd did not exit within 30s of SIGTERM")
	}
	if !d.cmd.ProcessState.Success() {
		return fmt.Errorf("berthd exited with %v", d.cmd.ProcessState)
	}
	return nil
}

// Restart stops berthd (and its containerd) and starts it again on the
// same directories and flags, as after a node's berthd upgrade.
func (d *Daemon) Restart() {
	d.t.Helper()
	if err := d.Stop(); err != nil {
		d.t.Fatalf("stopping berthd to restart it: %v\n%s", err, d.Log())
	}
	d.mu.Lock()
	d.stopped = false
	d.mu.Unlock()
	d.start(d.args)
}

// KillAndRestart kills berthd with SIGKILL, leaving its containerd running
// as a crash would, and starts it again on the same directories and flags.
func (d *Daemon) KillAndRestart() {
	d.t.Helper()
	d.conn.Close()
	d.cmd.Process.Kill()
	<-d.exited
	d.start(d.args)
}

// Crictl runs the built crictl against this daemon and returns its stdout.
func (d *Daemon) Crictl(args ...string) (string, error) {
	d.t.Helper()
	cmd := exec.Command(Bin(d.t, "crictl"), append([]string{"--runtime-endpoint", "unix://" + d.Socket, "--image-endpoint", "unix://" + d.Socket, "--timeout", "30s"}, args...)...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if err != nil {
		return out.String(), fmt.Errorf("crictl %s: %w: %s", strings.Join(args, " "), err, errOut.String())
	}
	return out.String(), nil
}

// cleanup stops the daemon and its containerd and checks nothing of them
// runs or stays mounted, then removes the directories.
func (d *Daemon) cleanup() {
	t := d.t
	ctrd := d.ContainerdPID()
	if err := d.Stop(); err != nil {
		t.Errorf("stopping berthd: %v\n%s", err, d.Log())
	}
	if races := dataRaces(d.Log()); races != "" {
		t.Errorf("berthd reported data races:\n%s", races)
	}
	if ctrd != 0 && processAlive(ctrd) {
		t.Errorf("containerd %d still runs after berthd stopped", ctrd)
		syscall.Kill(ctrd, syscall.SIGKILL)
	}
	if mounts := MountsUnder(d.Dir); len(mounts) > 0 {
		t.Errorf("mounts left under %s: %v", d.Dir, mounts)
		for i := len(mounts) - 1; i >= 0; i-- {
			syscall.Unmount(mounts[i], syscall.MNT_DETACH)
		}
	}
	// The bridge plugin leaves its bridge behind by design; it is ours.
	if link, err := netlink.LinkByName(d.Bridge); err == nil {
		netlink.LinkDel(link)
	}
	if t.Failed() {
		t.Logf("berthd's log:\n%s", d.Log())
		if data, err := os.ReadFile(filepath.Join(d.Root, "containerd.log")); err == nil {
			t.Logf("containerd's log:\n%s", data)
		}
	}
	os.RemoveAll(d.Dir)
}

// berthdPath is BERTH_BERTHD if set, else berthd in BinDir.
func berthdPath(t *testing.T) string {
	if p := os.Getenv("BERTH_BERTHD"); p != "" {
		return p
	}
	return Bin(t, "berthd")
}

// dataRaces returns the race detector's reports in a berthd log, each
// from its WARNING line to its closing row of equals signs.
func dataRaces(log string) string {
	const start, end = "WARNING: DATA RACE", "\n=================="
	var out strings.Builder
	for {
		i := strings.Index(log, start)
		if i < 0 {
			return out.String()
		}
		log = log[i:]
		j := strings.Index(log, end)
		if j < 0 {
			j = len(log)
		}
		out.WriteString(strings.TrimRight(log[:j], "\n") + "\n")
		log = log[j:]
	}
}

// MountsUnder lists mount points at or below dir.
func MountsUnder(dir string) []string {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	var out []string
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && (f[4] == dir || strings.HasPrefix(f[4], dir+"/")) {
			out = append(out, f[4])
		}
	}
	return out
}

func processAlive(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(stat)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	return len(fields) > 0 && fields[0] != "Z"
}

// ProcessAlive reports whether pid runs (a zombie does not).
func ProcessAlive(pid int) bool { return processAlive(pid) }

// ModuleRoot is the repository's root directory: that of Berth's own
// module, above the test module the tests run in.
func ModuleRoot() string { return moduleRoot() }

func moduleRoot() string {
	dir, _ := os.Getwd()
	for d := dir; d != "/"; d = filepath.Dir(d) {
		mod, err := os.ReadFile(filepath.Join(d, "go.mod"))
		if err == nil && slices.Contains(strings.Split(string(mod), "\n"), "module github.com/berth-cri/berth") {
			return d
		}
	}
	return dir
}
