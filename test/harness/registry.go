package harness

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Registry is a running berth-registry serving the offline test images
// (`make images`) on 127.0.0.1.
type Registry struct {
	// Addr is the host:port it serves on.
	Addr string
	// HostsDir holds hosts.toml files sending every upstream host the
	// images name (and docker.io, registry.k8s.io...) to it: pass it to
	// Start with WithRegistryConfigDir.
	HostsDir string
	// LogPath receives its output.
	LogPath string
}

type registryOptions struct{ user, password string }

// RegistryOption changes how StartRegistry runs berth-registry.
type RegistryOption func(*registryOptions)

// WithBasicAuth makes every request to the registry need this user and
// password.
func WithBasicAuth(user, password string) RegistryOption {
	return func(o *registryOptions) { o.user, o.password = user, password }
}

// ImagesDir is where `make images` put the test images.
func ImagesDir() string {
	if d := os.Getenv("BERTH_IMAGES_DIR"); d != "" {
		return d
	}
	return filepath.Join(moduleRoot(), "_output", "images")
}

// StartRegistry runs berth-registry on a free loopback port, waits until
// it serves every image, and stops it when the test ends.
func StartRegistry(t *testing.T, opts ...RegistryOption) *Registry {
	t.Helper()
	o := &registryOptions{}
	for _, opt := range opts {
		opt(o)
	}
	layout := filepath.Join(ImagesDir(), "layout")
	if _, err := os.Stat(filepath.Join(layout, "index.json")); err != nil {
		t.Fatalf("the test images are not built (run make images): %v", err)
	}
	dir := t.TempDir()
	r := &Registry{HostsDir: filepath.Join(dir, "hosts"), LogPath: filepath.Join(dir, "registry.log")}
	addrFile := filepath.Join(dir, "addr")
	args := []string{"--layout", layout, "--addr", "127.0.0.1:0", "--addr-file", addrFile, "--hosts-dir", r.HostsDir, "--quiet"}
	if o.user != "" {
		args = append(args, "--user", o.user, "--password", o.password)
	}
	logFile, err := os.Create(r.LogPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	cmd := exec.Command(Bin(t, "berth-registry"), args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	})

	deadline := time.Now().Add(60 * time.Second)
	for {
		if data, err := os.ReadFile(addrFile); err == nil && bytes.HasSuffix(data, []byte("\n")) {
			r.Addr = strings.TrimSpace(string(data))
			return r
		}
		select {
		case <-exited:
			log, _ := os.ReadFile(r.LogPath)
			t.Fatalf("berth-registry exited before serving:\n%s", log)
		default:
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(r.LogPath)
			t.Fatalf("berth-registry did not serve within 60s:\n%s", log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
