package checkpoint

import (
	"os"
	"path/filepath"
	"testing"

	metadata "github.com/checkpoint-restore/checkpointctl/lib"
	"github.com/containerd/errdefs"
)

// FuzzArchive feeds arbitrary bytes, as a checkpoint archive a CRI client
// names, to what restore reads: Inspect and ExtractArchive. Nothing may
// panic, a bad archive is InvalidArgument (or too large: ResourceExhausted),
// and nothing is written outside the destination.
func FuzzArchive(f *testing.F) {
	dir := f.TempDir()
	src := filepath.Join(dir, "src")
	if err := os.MkdirAll(filepath.Join(src, CheckpointDir), 0o700); err != nil {
		f.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, ConfigDumpFile), []byte(`{"id":"abc","name":"counter","rootfsImageRef":"busybox@sha256:1234"}`), 0o600); err != nil {
		f.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, SpecDumpFile), []byte(`{"process":{"args":["sh"]}}`), 0o600); err != nil {
		f.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, CheckpointDir, inventoryImage), []byte("stand-in"), 0o600); err != nil {
		f.Fatal(err)
	}
	seed := filepath.Join(dir, "seed.tar")
	if err := WriteArchive(src, seed); err != nil {
		f.Fatal(err)
	}
	b, _ := os.ReadFile(seed)
	f.Add(b)
	f.Add([]byte("not a tar"))
	base := f.TempDir() // one per fuzzing process, emptied each run
	f.Fuzz(func(t *testing.T, data []byte) {
		archive, dst := filepath.Join(base, "a.tar"), filepath.Join(base, "dst")
		os.RemoveAll(dst)
		if err := os.WriteFile(archive, data, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Mkdir(dst, 0o700); err != nil {
			t.Fatal(err)
		}
		if _, err := Inspect(archive); err != nil && !errdefs.IsInvalidArgument(err) {
			t.Fatalf("Inspect = %v, want InvalidArgument", err)
		}
		if err := ExtractArchive(archive, dst); err != nil && !errdefs.IsInvalidArgument(err) && !errdefs.IsResourceExhausted(err) {
			t.Fatalf("ExtractArchive = %v, want InvalidArgument", err)
		}
		if entries, _ := os.ReadDir(base); len(entries) != 2 {
			t.Fatalf("the archive wrote beside its destination: %v", entries)
		}
		if _, err := ReadMetadata(dst); err != nil && !errdefs.IsInvalidArgument(err) && !errdefs.IsNotFound(err) {
			t.Fatalf("ReadMetadata = %v", err)
		}
	})
}

// FuzzMetadata feeds arbitrary config.dump and spec.dump files to
// ReadMetadata: nothing may panic, a bad file is InvalidArgument.
func FuzzMetadata(f *testing.F) {
	f.Add([]byte(`{"id":"abc","name":"counter"}`), []byte(`{"process":{"args":["sh"]}}`))
	f.Add([]byte(`{}`), []byte(`null`))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, config, spec []byte) {
		if err := os.WriteFile(filepath.Join(dir, metadata.ConfigDumpFile), config, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, metadata.SpecDumpFile), spec, 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := ReadMetadata(dir); err != nil && !errdefs.IsInvalidArgument(err) && !errdefs.IsNotFound(err) {
			t.Fatalf("ReadMetadata = %v, want InvalidArgument", err)
		}
	})
}
