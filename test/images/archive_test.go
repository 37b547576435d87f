package images

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

	"github.com/containerd/containerd/v2/core/content"
	"github.com/containerd/containerd/v2/core/images"
	"github.com/containerd/containerd/v2/core/images/archive"
	"github.com/containerd/containerd/v2/plugins/content/local"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// TestPauseArchiveImportsIntoContainerd feeds the pause archive to
// containerd's own importer (what client.Import runs) and checks that the
// image comes out under its name with every blob in the content store.
func TestPauseArchiveImportsIntoContainerd(t *testing.T) {
	pause := byRef(t, testBuild(t), PauseRef)
	var buf bytes.Buffer
	if err := WriteArchive(&buf, pause.Img, pause.Refs); err != nil {
		t.Fatal(err)
	}

	ctx := context.Background()
	store, err := local.NewStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	indexDesc, err := archive.ImportIndex(ctx, store, &buf)
	if err != nil {
		t.Fatalf("containerd cannot import the archive: %v", err)
	}
	var index ocispec.Index
	readJSON(t, ctx, store, indexDesc, &index)
	if len(index.Manifests) != 1 {
		t.Fatalf("index lists %d manifests, want 1", len(index.Manifests))
	}
	m := index.Manifests[0]
	if got := m.Annotations[images.AnnotationImageName]; got != PauseRef {
		t.Fatalf("imported image name %q, want %q", got, PauseRef)
	}
	want, _ := pause.Img.Digest()
	if m.Digest.String() != want.String() {
		t.Fatalf("imported manifest %s, built %s", m.Digest, want)
	}

	var manifest ocispec.Manifest
	readJSON(t, ctx, store, m, &manifest)
	for _, d := range append([]ocispec.Descriptor{manifest.Config}, manifest.Layers...) {
		info, err := store.Info(ctx, d.Digest)
		if err != nil {
			t.Fatalf("blob %s (%s) missing after import: %v", d.Digest, d.MediaType, err)
		}
		if info.Size != d.Size {
			t.Fatalf("blob %s has %d bytes, descriptor says %d", d.Digest, info.Size, d.Size)
		}
	}
	platforms, err := images.Platforms(ctx, store, m)
	if err != nil || len(platforms) != 1 || platforms[0].OS != "linux" {
		t.Fatalf("platforms %v, %v", platforms, err)
	}
}

func readJSON(t *testing.T, ctx context.Context, store content.Store, desc ocispec.Descriptor, v any) {
	t.Helper()
	b, err := content.ReadBlob(ctx, store, desc)
	if err != nil {
		t.Fatalf("reading %s: %v", desc.Digest, err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("decoding %s: %v", desc.Digest, err)
	}
}
