package images

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"io"
	"slices"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

var amd64 = ocispec.Platform{OS: "linux", Architecture: "amd64"}

func TestBuildPauseImageIsDeterministic(t *testing.T) {
	binary := []byte("\x7fELF pretend this is berth-pause")
	a, err := buildPauseImage(binary, amd64)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond) // a build that read the clock would differ now
	b, err := buildPauseImage(slices.Clone(binary), amd64)
	if err != nil {
		t.Fatal(err)
	}
	if a.manifest.Digest != b.manifest.Digest || a.config.Digest != b.config.Digest {
		t.Fatalf("same binary, different image: %s/%s vs %s/%s", a.manifest.Digest, a.config.Digest, b.manifest.Digest, b.config.Digest)
	}
	c, _ := buildPauseImage(append(slices.Clone(binary), '!'), amd64)
	if c.config.Digest == a.config.Digest {
		t.Fatal("a different binary gave the same image ID")
	}
	for d, data := range a.blobs {
		if digest.FromBytes(data) != d {
			t.Errorf("blob %s does not match its digest", d)
		}
	}
}

func TestBuildPauseImageContents(t *testing.T) {
	binary := bytes.Repeat([]byte("pause"), 1000)
	b, err := buildPauseImage(binary, amd64)
	if err != nil {
		t.Fatal(err)
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(b.blobs[b.manifest.Digest], &m); err != nil {
		t.Fatal(err)
	}
	if m.MediaType != ocispec.MediaTypeImageManifest || m.Config.Digest != b.config.Digest || len(m.Layers) != 1 || m.Layers[0].Digest != b.layer.Digest {
		t.Fatalf("manifest does not tie the blobs together: %+v", m)
	}
	var cfg ocispec.Image
	if err := json.Unmarshal(b.blobs[b.config.Digest], &cfg); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(cfg.Config.Entrypoint, []string{"/pause"}) || cfg.Config.User != "65535:65535" {
		t.Errorf("config = %+v, want entrypoint /pause as 65535:65535", cfg.Config)
	}
	if cfg.OS != "linux" || cfg.Architecture != "amd64" {
		t.Errorf("platform = %s/%s", cfg.OS, cfg.Architecture)
	}
	if len(cfg.RootFS.DiffIDs) != 1 || cfg.RootFS.DiffIDs[0] != b.layer.Digest {
		t.Errorf("diff IDs %v, want the (uncompressed) layer's digest %s", cfg.RootFS.DiffIDs, b.layer.Digest)
	}

	tr := tar.NewReader(bytes.NewReader(b.blobs[b.layer.Digest]))
	var names []string
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, hdr.Name)
		if hdr.Mode != 0o755 || hdr.Uid != 0 || hdr.Gid != 0 || !hdr.ModTime.Equal(time.Unix(0, 0)) {
			t.Errorf("layer entry %s: mode %o uid %d gid %d mtime %v", hdr.Name, hdr.Mode, hdr.Uid, hdr.Gid, hdr.ModTime)
		}
		if hdr.Name == "pause" {
			if got, _ := io.ReadAll(tr); hdr.Typeflag != tar.TypeReg || !bytes.Equal(got, binary) {
				t.Error("/pause is not the binary")
			}
		} else if hdr.Typeflag != tar.TypeDir {
			t.Errorf("%s is not a directory", hdr.Name)
		}
	}
	if want := []string{"dev/", "pause", "proc/", "sys/"}; !slices.Equal(names, want) {
		t.Errorf("layer holds %v, want %v", names, want)
	}
}
