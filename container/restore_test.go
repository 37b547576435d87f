package container

import (
	"archive/tar"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	metadata "github.com/checkpoint-restore/checkpointctl/lib"
	"github.com/containerd/errdefs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/berth-cri/berth/internal/checkpoint"
)

func TestRestoredConfig(t *testing.T) {
	md := checkpoint.Metadata{
		Config: metadata.ContainerConfig{RootfsImageRef: "registry.k8s.io/e2e-test-images/busybox@sha256:1234", RootfsImageName: "busybox:1.29"},
		Spec: &specs.Spec{Process: &specs.Process{
			Args: []string{"sh", "-c", "count"}, Cwd: "/work", Env: []string{"PATH=/bin", "A=b=c"},
		}},
	}
	req := &runtimeapi.ContainerConfig{
		Metadata:    &runtimeapi.ContainerMetadata{Name: "counter", Attempt: 2},
		Image:       &runtimeapi.ImageSpec{Image: "/var/lib/kubelet/checkpoints/c.tar"},
		Labels:      map[string]string{"app": "x"},
		Annotations: map[string]string{"io.kubernetes.container.restartCount": "2"},
		LogPath:     "counter/2.log",
		Mounts:      []*runtimeapi.Mount{{ContainerPath: "/data", HostPath: "/srv"}},
	}
	got, err := restoredConfig(req, md)
	if err != nil {
		t.Fatalf("restoredConfig: %v", err)
	}
	if got.GetImage().GetImage() != md.Config.RootfsImageRef || got.GetImage().GetUserSpecifiedImage() != "busybox:1.29" {
		t.Errorf("image = %+v, want the checkpoint's", got.GetImage())
	}
	if !slices.Equal(got.GetCommand(), []string{"sh", "-c", "count"}) || got.GetArgs() != nil || got.GetWorkingDir() != "/work" {
		t.Errorf("process = %q %q in %q, want the checkpoint's", got.GetCommand(), got.GetArgs(), got.GetWorkingDir())
	}
	if len(got.GetEnvs()) != 2 || got.GetEnvs()[1].GetKey() != "A" || string(got.GetEnvs()[1].GetValue()) != "b=c" {
		t.Errorf("envs = %v", got.GetEnvs())
	}
	// The restore-time settings are the request's.
	if got.GetMetadata().GetAttempt() != 2 || got.GetLabels()["app"] != "x" || got.GetLogPath() != "counter/2.log" || len(got.GetMounts()) != 1 {
		t.Errorf("restore-time settings lost: %+v", got)
	}
	if req.GetImage().GetImage() != "/var/lib/kubelet/checkpoints/c.tar" {
		t.Error("restoredConfig changed the request")
	}

	for name, req := range map[string]*runtimeapi.ContainerConfig{
		"other command":     {Command: []string{"sleep", "1"}},
		"other args":        {Command: []string{"sh"}, Args: []string{"-c", "other"}},
		"other working dir": {WorkingDir: "/"},
	} {
		if _, err := restoredConfig(req, md); !errdefs.IsInvalidArgument(err) {
			t.Errorf("%s: restoredConfig = %v, want InvalidArgument", name, err)
		}
	}
	same := &runtimeapi.ContainerConfig{Command: []string{"sh"}, Args: []string{"-c", "count"}, WorkingDir: "/work"}
	if _, err := restoredConfig(same, md); err != nil {
		t.Errorf("restoredConfig of the checkpointed command = %v", err)
	}
}

func TestApplyLayer(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "etc", "motd"), []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "etc", "hostname"), []byte("kept"), 0o644); err != nil {
		t.Fatal(err)
	}

	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.WriteHeader(&tar.Header{Name: "etc/", Typeflag: tar.TypeDir, Mode: 0o755}); err != nil {
		t.Fatal(err)
	}
	if err := tw.WriteHeader(&tar.Header{Name: "etc/.wh.motd", Typeflag: tar.TypeReg, Mode: 0o600}); err != nil {
		t.Fatal(err)
	}
	if err := tw.WriteHeader(&tar.Header{Name: "tmp/", Typeflag: tar.TypeDir, Mode: 0o1777}); err != nil {
		t.Fatal(err)
	}
	if err := tw.WriteHeader(&tar.Header{Name: "tmp/counter", Typeflag: tar.TypeReg, Mode: 0o644, Size: 3}); err != nil {
		t.Fatal(err)
	}
	if _, err := tw.Write([]byte("42\n")); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	layer := filepath.Join(t.TempDir(), checkpoint.RootFsDiffTar)
	if err := os.WriteFile(layer, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}

	if err := applyLayer(context.Background(), root, layer); err != nil {
		t.Fatalf("applyLayer: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(root, "tmp", "counter")); err != nil || string(b) != "42\n" {
		t.Errorf("the checkpoint's new file: %q, %v", b, err)
	}
	if _, err := os.Stat(filepath.Join(root, "etc", "motd")); !os.IsNotExist(err) {
		t.Errorf("the checkpoint's deleted file is still there: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "etc", "hostname")); string(b) != "kept" {
		t.Errorf("an untouched file changed: %q", b)
	}
}

func TestRestoreTaskOpts(t *testing.T) {
	m := NewManager(Config{State: t.TempDir(), CRIU: &fakeCRIU{}})
	if opts := m.restoreTaskOpts("plain"); opts != nil {
		t.Errorf("a container without a checkpoint gets %d restore options", len(opts))
	}
	if err := os.MkdirAll(filepath.Join(m.restoreDir("restored"), checkpoint.CheckpointDir), 0o700); err != nil {
		t.Fatal(err)
	}
	if opts := m.restoreTaskOpts("restored"); len(opts) != 2 {
		t.Errorf("a restored container gets %d restore options, want image and work path", len(opts))
	}
	m.restored("restored")
	if opts := m.restoreTaskOpts("restored"); opts != nil {
		t.Error("the CRIU images outlive the restore")
	}
}

// CRIU's images are as large as the container's memory: they are unpacked
// on the data root, not the state tmpfs every pod start needs.
func TestRestoreUnpacksOnTheDataRoot(t *testing.T) {
	state, root := t.TempDir(), t.TempDir()
	m := NewManager(Config{State: state, Root: root, CRIU: &fakeCRIU{}})
	if dir := m.restoreDir("c1"); !strings.HasPrefix(dir, root+"/") {
		t.Errorf("restore directory %s is not on the data root %s", dir, root)
	}
}
