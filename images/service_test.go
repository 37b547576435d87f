package images

import (
	"bytes"
	"context"
	"io"
	"testing"

	contentapi "github.com/containerd/containerd/api/services/content/v1"
	"github.com/containerd/containerd/v2/core/content"
	"github.com/containerd/containerd/v2/plugins/content/local"
	"github.com/containerd/errdefs"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
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

// fakeContentAPI serves Read from blobs, in chunks of 4 bytes, as
// containerd's content service streams them.
type fakeContentAPI struct {
	contentapi.ContentClient
	blobs map[string][]byte
	reads int
}

func (f *fakeContentAPI) Read(_ context.Context, in *contentapi.ReadContentRequest, _ ...grpc.CallOption) (contentapi.Content_ReadClient, error) {
	f.reads++
	b, ok := f.blobs[in.Digest]
	if !ok {
		return nil, status.Error(codes.NotFound, "content digest "+in.Digest+": not found")
	}
	return &fakeReadStream{data: b}, nil
}

type fakeReadStream struct {
	contentapi.Content_ReadClient
	data []byte
}

func (s *fakeReadStream) Recv() (*contentapi.ReadContentResponse, error) {
	if len(s.data) == 0 {
		return nil, io.EOF
	}
	n := min(4, len(s.data))
	resp := &contentapi.ReadContentResponse{Data: s.data[:n]}
	s.data = s.data[n:]
	return resp, nil
}

func TestBlobCacheReadsInOneRequest(t *testing.T) {
	ctx := context.Background()
	blob := []byte(`{"schemaVersion":2,"config":{}}`)
	desc := ocispec.Descriptor{Digest: digest.FromBytes(blob), Size: int64(len(blob))}
	tampered := ocispec.Descriptor{Digest: digest.FromString("other"), Size: int64(len(blob))}
	api := &fakeContentAPI{blobs: map[string][]byte{desc.Digest.String(): blob, tampered.Digest.String(): blob}}
	cache := &blobCache{api: api} // no Store: it must not be needed

	for range 2 {
		got, err := content.ReadBlob(ctx, cache, desc)
		if err != nil || !bytes.Equal(got, blob) {
			t.Fatalf("ReadBlob = %q, %v; want %q", got, err, blob)
		}
	}
	if api.reads != 1 {
		t.Errorf("%d Read requests for two reads of one blob, want 1", api.reads)
	}
	if _, err := content.ReadBlob(ctx, cache, tampered); !errdefs.IsDataLoss(err) {
		t.Errorf("a blob that does not match its digest: err = %v, want DataLoss", err)
	}
	short := ocispec.Descriptor{Digest: desc.Digest, Size: desc.Size - 1}
	if _, err := (&blobCache{api: api}).read(ctx, short); !errdefs.IsDataLoss(err) {
		t.Errorf("a blob longer than its descriptor says: err = %v, want DataLoss", err)
	}
	missing := ocispec.Descriptor{Digest: digest.FromString("missing"), Size: 7}
	if _, err := content.ReadBlob(ctx, cache, missing); !errdefs.IsNotFound(err) {
		t.Errorf("a missing blob: err = %v, want NotFound", err)
	}
}
