package images

import (
	"bytes"
	"context"
	"testing"

	"github.com/containerd/containerd/v2/core/content"
	"github.com/containerd/containerd/v2/plugins/content/local"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// countingStore counts the blob reads that would be round trips to
// containerd.
type countingStore struct {
	content.Store
	reads int
}

func (c *countingStore) ReaderAt(ctx context.Context, desc ocispec.Descriptor) (content.ReaderAt, error) {
	c.reads++
	return c.Store.ReaderAt(ctx, desc)
}

func TestBlobCacheReadsEachBlobOnce(t *testing.T) {
	ctx := context.Background()
	cs, err := local.NewStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	blob := []byte(`{"schemaVersion":2}`)
	desc := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromBytes(blob), Size: int64(len(blob))}
	if err := content.WriteBlob(ctx, cs, "test", bytes.NewReader(blob), desc); err != nil {
		t.Fatal(err)
	}
	counting := &countingStore{Store: cs}
	cache := &blobCache{Store: counting}
	for range 3 {
		got, err := content.ReadBlob(ctx, cache, desc)
		if err != nil || !bytes.Equal(got, blob) {
			t.Fatalf("ReadBlob = %q, %v; want %q", got, err, blob)
		}
	}
	if counting.reads != 1 {
		t.Errorf("%d reads from the store for three of one blob, want 1", counting.reads)
	}
	missing := ocispec.Descriptor{Digest: digest.FromString("missing"), Size: 7}
	if _, err := content.ReadBlob(ctx, cache, missing); err == nil {
		t.Error("a missing blob reads without error")
	}
}
