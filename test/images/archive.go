package images

import (
	"fmt"
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

// ociLayoutFile is the oci-layout marker file of an image layout.
const ociLayoutFile = `{"imageLayoutVersion":"1.0.0"}`

// WriteArchive writes img, named by refs, as an OCI image layout packed in
// a tar stream: the format containerd's client.Import reads. berthd
// imports the pause image this way so sandboxes start with no registry.
// The tar is deterministic like the layers.
func WriteArchive(w io.Writer, img v1.Image, refs []string) error {
	plat, err := platform(img)
	if err != nil {
		return err
	}
	mf, err := img.RawManifest()
	if err != nil {
		return fmt.Errorf("reading manifest: %w", err)
	}
	digest, err := img.Digest()
	if err != nil {
		return fmt.Errorf("reading manifest digest: %w", err)
	}
	cfg, err := img.RawConfigFile()
	if err != nil {
		return fmt.Errorf("reading config: %w", err)
	}
	cfgName, err := img.ConfigName()
	if err != nil {
		return fmt.Errorf("reading config digest: %w", err)
	}

	t := NewTree()
	t.File("oci-layout", 0o644, []byte(ociLayoutFile))
	t.File(blobPath(digest), 0o644, mf)
	t.File(blobPath(cfgName), 0o644, cfg)
	layers, err := img.Layers()
	if err != nil {
		return fmt.Errorf("listing layers: %w", err)
	}
	for _, l := range layers {
		d, err := l.Digest()
		if err != nil {
			return fmt.Errorf("reading layer digest: %w", err)
		}
		rc, err := l.Compressed()
		if err != nil {
			return fmt.Errorf("reading layer %s: %w", d, err)
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			return fmt.Errorf("reading layer %s: %w", d, err)
		}
		t.File(blobPath(d), 0o644, data)
	}

	var idx v1.ImageIndex = empty.Index
	for _, ref := range refs {
		ann, err := refAnnotations(ref)
		if err != nil {
			return err
		}
		p := plat
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{
			Add:        img,
			Descriptor: v1.Descriptor{Annotations: ann, Platform: &p},
		})
	}
	index, err := idx.RawManifest()
	if err != nil {
		return fmt.Errorf("making index: %w", err)
	}
	t.File("index.json", 0o644, index)
	return t.WriteTar(w)
}

func blobPath(h v1.Hash) string {
	return "blobs/" + h.Algorithm + "/" + h.Hex
}
