package checkpoint

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	metadata "github.com/checkpoint-restore/checkpointctl/lib"
	"github.com/containerd/errdefs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// writeCheckpointDir lays out what a checkpoint directory holds before it
// is archived.
func writeCheckpointDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	md := Metadata{
		Config: metadata.ContainerConfig{
			ID: "abc", Name: "counter", RootfsImageRef: "busybox@sha256:1234", RootfsImageName: "busybox:1.29",
			OCIRuntime: "io.containerd.runc.v2", CheckpointedAt: time.Unix(1700000000, 0).UTC(),
		},
		Spec:   &specs.Spec{Version: "1.2.1", Process: &specs.Process{Args: []string{"sh", "-c", "count"}}},
		Status: json.RawMessage(`{"id":"abc","state":1}`),
	}
	if err := WriteMetadata(dir, md); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, CheckpointDir), 0o700); err != nil {
		t.Fatal(err)
	}
	for name, content := range map[string]string{
		filepath.Join(CheckpointDir, inventoryImage): "criu inventory",
		filepath.Join(CheckpointDir, "pages-1.img"):  "pages",
		RootFsDiffTar: "layer", DeletedFilesFile: "[]", ContainerLogFile: "log line\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestArchiveRoundTrip(t *testing.T) {
	src := writeCheckpointDir(t)
	location := filepath.Join(t.TempDir(), "checkpoint.tar")
	if err := WriteArchive(src, location); err != nil {
		t.Fatalf("WriteArchive: %v", err)
	}
	// The layout is checkpointctl's: files at the top, CRIU images below
	// checkpoint/.
	f, err := os.Open(location)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var names []string
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if err != nil {
			break
		}
		names = append(names, hdr.Name)
	}
	want := []string{"checkpoint/", "checkpoint/inventory.img", "checkpoint/pages-1.img", "config.dump",
		"container.log", "deleted.files", "rootfs-diff.tar", "spec.dump", "status.dump"}
	if !reflect.DeepEqual(names, want) {
		t.Errorf("archive holds %q, want %q", names, want)
	}

	dst := t.TempDir()
	if err := ExtractArchive(location, dst); err != nil {
		t.Fatalf("ExtractArchive: %v", err)
	}
	md, err := ReadMetadata(dst)
	if err != nil {
		t.Fatalf("ReadMetadata: %v", err)
	}
	if md.Config.Name != "counter" || md.Config.RootfsImageRef != "busybox@sha256:1234" {
		t.Errorf("config.dump read back as %+v", md.Config)
	}
	if got := md.Spec.Process.Args; !reflect.DeepEqual(got, []string{"sh", "-c", "count"}) {
		t.Errorf("spec.dump process args = %q", got)
	}
	if string(md.Status) != `{"id":"abc","state":1}` {
		t.Errorf("status.dump = %s", md.Status)
	}
	if b, _ := os.ReadFile(filepath.Join(dst, CheckpointDir, "pages-1.img")); string(b) != "pages" {
		t.Errorf("CRIU image read back as %q", b)
	}
}

func TestWriteArchiveFailureLeavesNothing(t *testing.T) {
	src := writeCheckpointDir(t)
	if err := os.Symlink("/etc/passwd", filepath.Join(src, "escape")); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	location := filepath.Join(dir, "checkpoint.tar")
	if err := WriteArchive(src, location); err == nil {
		t.Fatal("WriteArchive of a directory with a symlink succeeded")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("a failed WriteArchive left %v in the location's directory", entries)
	}
}

// tarOf builds a tar from headers with small bodies.
func tarOf(t *testing.T, entries ...tar.Header) string {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, h := range entries {
		body := []byte("x")
		if h.Typeflag != tar.TypeReg {
			body = nil
		}
		h.Size = int64(len(body))
		h.Mode = 0o600
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(body); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "a.tar")
	if err := os.WriteFile(p, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestExtractArchiveRejects(t *testing.T) {
	notTar := filepath.Join(t.TempDir(), "not.tar")
	if err := os.WriteFile(notTar, bytes.Repeat([]byte("garbage "), 200), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		archive string
	}{
		{"dot dot", tarOf(t, tar.Header{Name: "../escaped", Typeflag: tar.TypeReg})},
		{"nested dot dot", tarOf(t, tar.Header{Name: "checkpoint/../../escaped", Typeflag: tar.TypeReg})},
		{"symlink", tarOf(t, tar.Header{Name: "link", Typeflag: tar.TypeSymlink, Linkname: "/etc"})},
		{"symlink then through it", tarOf(t,
			tar.Header{Name: "d", Typeflag: tar.TypeSymlink, Linkname: "/tmp"},
			tar.Header{Name: "d/escaped", Typeflag: tar.TypeReg})},
		{"device", tarOf(t, tar.Header{Name: "null", Typeflag: tar.TypeChar})},
		{"not a tar", notTar},
	} {
		t.Run(tc.name, func(t *testing.T) {
			parent := t.TempDir()
			dst := filepath.Join(parent, "dst")
			if err := os.Mkdir(dst, 0o700); err != nil {
				t.Fatal(err)
			}
			err := ExtractArchive(tc.archive, dst)
			if !errdefs.IsInvalidArgument(err) {
				t.Fatalf("ExtractArchive = %v, want InvalidArgument", err)
			}
			if _, err := os.Lstat(filepath.Join(parent, "escaped")); err == nil {
				t.Error("an entry was written outside the destination")
			}
		})
	}
	if err := ExtractArchive(filepath.Join(t.TempDir(), "missing.tar"), t.TempDir()); !errdefs.IsNotFound(err) {
		t.Errorf("ExtractArchive of a missing file = %v, want NotFound", err)
	}
	if err := ExtractArchive(t.TempDir(), t.TempDir()); !errdefs.IsInvalidArgument(err) {
		t.Errorf("ExtractArchive of a directory = %v, want InvalidArgument", err)
	}
}

func TestReadMetadataRejects(t *testing.T) {
	for _, tc := range []struct {
		name   string
		remove string
	}{
		{"no config.dump", ConfigDumpFile},
		{"no spec.dump", SpecDumpFile},
		{"no CRIU images", CheckpointDir},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeCheckpointDir(t)
			os.RemoveAll(filepath.Join(dir, tc.remove))
			if _, err := ReadMetadata(dir); !errdefs.IsInvalidArgument(err) {
				t.Errorf("ReadMetadata = %v, want InvalidArgument", err)
			}
		})
	}
	dir := writeCheckpointDir(t)
	if err := os.WriteFile(filepath.Join(dir, SpecDumpFile), []byte(`{"ociVersion":"1.2.1"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadMetadata(dir); !errdefs.IsInvalidArgument(err) {
		t.Errorf("ReadMetadata of a spec without a process = %v, want InvalidArgument", err)
	}
}

func TestValidateLocation(t *testing.T) {
	dir := t.TempDir()
	existing := filepath.Join(dir, "old.tar")
	if err := os.WriteFile(existing, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		location string
		ok       bool
	}{
		{filepath.Join(dir, "new.tar"), true},
		{existing, true},
		{"", false},
		{"relative.tar", false},
		{dir + "/../x.tar", false},
		{dir, false},                                    // a directory
		{filepath.Join(dir, "missing", "x.tar"), false}, // no parent
		{filepath.Join(existing, "x.tar"), false},       // parent is a file
	} {
		err := ValidateLocation(tc.location)
		if tc.ok && err != nil {
			t.Errorf("ValidateLocation(%q) = %v, want nil", tc.location, err)
		}
		if !tc.ok && !errdefs.IsInvalidArgument(err) {
			t.Errorf("ValidateLocation(%q) = %v, want InvalidArgument", tc.location, err)
		}
	}
}

func TestIsArchiveRef(t *testing.T) {
	for image, want := range map[string]bool{
		"/var/lib/kubelet/checkpoints/c.tar": true,
		"busybox:1.29":                       false,
		"sha256:53bcfc67a8f9":                false,
		"registry.k8s.io/pause:3.10":         false,
		"":                                   false,
	} {
		if got := IsArchiveRef(image); got != want {
			t.Errorf("IsArchiveRef(%q) = %v, want %v", image, got, want)
		}
	}
}

func TestDeletedFiles(t *testing.T) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, name := range []string{"etc/", "etc/.wh.motd", "tmp/new", "var/cache/.wh..wh..opq", ".wh.gone"} {
		hdr := &tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o600}
		if strings.HasSuffix(name, "/") {
			hdr.Typeflag, hdr.Mode = tar.TypeDir, 0o700 // tar refuses a file named like a directory
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := DeletedFiles(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"/etc/motd", "/gone"}; !reflect.DeepEqual(got, want) {
		t.Errorf("DeletedFiles = %q, want %q", got, want)
	}
}

func TestInspect(t *testing.T) {
	src := writeCheckpointDir(t)
	location := filepath.Join(t.TempDir(), "checkpoint.tar")
	if err := WriteArchive(src, location); err != nil {
		t.Fatal(err)
	}
	md, err := Inspect(location)
	if err != nil {
		t.Fatalf("Inspect: %v", err)
	}
	if md.Config.Name != "counter" || md.Spec.Process.Args[0] != "sh" || string(md.Status) != `{"id":"abc","state":1}` {
		t.Errorf("Inspect = %+v", md)
	}

	for _, tc := range []struct {
		name   string
		remove string
	}{
		{"no config.dump", ConfigDumpFile},
		{"no spec.dump", SpecDumpFile},
		{"no CRIU images", CheckpointDir},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeCheckpointDir(t)
			os.RemoveAll(filepath.Join(dir, tc.remove))
			location := filepath.Join(t.TempDir(), "checkpoint.tar")
			if err := WriteArchive(dir, location); err != nil {
				t.Fatal(err)
			}
			if _, err := Inspect(location); !errdefs.IsInvalidArgument(err) {
				t.Errorf("Inspect = %v, want InvalidArgument", err)
			}
		})
	}
	t.Run("bad JSON", func(t *testing.T) {
		dir := writeCheckpointDir(t)
		if err := os.WriteFile(filepath.Join(dir, ConfigDumpFile), []byte("{"), 0o600); err != nil {
			t.Fatal(err)
		}
		location := filepath.Join(t.TempDir(), "checkpoint.tar")
		if err := WriteArchive(dir, location); err != nil {
			t.Fatal(err)
		}
		if _, err := Inspect(location); !errdefs.IsInvalidArgument(err) {
			t.Errorf("Inspect = %v, want InvalidArgument", err)
		}
	})
	if _, err := Inspect(filepath.Join(t.TempDir(), "missing.tar")); !errdefs.IsNotFound(err) {
		t.Errorf("Inspect of a missing archive = %v, want NotFound", err)
	}
	notTar := filepath.Join(t.TempDir(), "not.tar")
	if err := os.WriteFile(notTar, bytes.Repeat([]byte("garbage "), 200), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Inspect(notTar); !errdefs.IsInvalidArgument(err) {
		t.Errorf("Inspect of a non-tar = %v, want InvalidArgument", err)
	}
}

// CheckpointPod names archives after containers; one named to climb out
// of the output directory writes nothing outside it.
func TestWriteArchiveInStaysInItsRoot(t *testing.T) {
	src, base := t.TempDir(), t.TempDir()
	out := filepath.Join(base, "out")
	if err := os.Mkdir(out, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "f"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	root, err := os.OpenRoot(out)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	if err := WriteArchiveIn(root, "containers.tar", src); err != nil {
		t.Fatalf("WriteArchiveIn: %v", err)
	}
	if _, err := os.Stat(filepath.Join(out, "containers.tar")); err != nil {
		t.Fatal(err)
	}
	if err := WriteArchiveIn(root, "../escaped.tar", src); err == nil {
		t.Fatal("WriteArchiveIn wrote above its root")
	}
	if _, err := os.Stat(filepath.Join(base, "escaped.tar")); !os.IsNotExist(err) {
		t.Fatalf("a file was written outside the output directory: %v", err)
	}
}
