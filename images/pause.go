package images

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/content"
	"github.com/containerd/containerd/v2/core/images"
	"github.com/containerd/errdefs"
	"github.com/containerd/platforms"
	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// pauseUser is the pause container's user, as in upstream's pause image:
// holding namespaces open needs no privilege.
const pauseUser = "65535:65535"

// builtImage is an image made in memory: its blobs by digest and the
// descriptors that tie them together.
type builtImage struct {
	manifest, config, layer ocispec.Descriptor
	blobs                   map[digest.Digest][]byte
}

// buildPauseImage makes the one-layer pause image: /pause (the
// berth-pause binary), run as the entrypoint, and empty /dev, /proc and
// /sys. Every input that could vary
// is fixed (times are the Unix epoch, owners root, the layer an
// uncompressed tar so no compressor version is involved), so the same
// binary always gives the same digests.
func buildPauseImage(binary []byte, platform ocispec.Platform) (builtImage, error) {
	var layer bytes.Buffer
	tw := tar.NewWriter(&layer)
	epoch := time.Unix(0, 0).UTC()
	// The mount points of the runtime's /dev, /proc and /sys are in the
	// image, so the pause container's root filesystem can be mounted
	// read-only before runc mounts them.
	for _, e := range []struct {
		name string
		data []byte
	}{{name: "dev/"}, {name: "pause", data: binary}, {name: "proc/"}, {name: "sys/"}} {
		hdr := &tar.Header{Typeflag: tar.TypeDir, Name: e.name, Mode: 0o755, ModTime: epoch, Format: tar.FormatUSTAR}
		if e.data != nil {
			hdr.Typeflag, hdr.Size = tar.TypeReg, int64(len(e.data))
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return builtImage{}, fmt.Errorf("pause layer: %w", err)
		}
		if _, err := tw.Write(e.data); err != nil {
			return builtImage{}, fmt.Errorf("pause layer: %w", err)
		}
	}
	if err := tw.Close(); err != nil {
		return builtImage{}, fmt.Errorf("pause layer: %w", err)
	}
	b := builtImage{blobs: map[digest.Digest][]byte{}}
	b.layer = b.add(ocispec.MediaTypeImageLayer, layer.Bytes())

	cfg := ocispec.Image{
		Created:  &epoch,
		Platform: ocispec.Platform{OS: platform.OS, Architecture: platform.Architecture, Variant: platform.Variant},
		Config: ocispec.ImageConfig{
			User:       pauseUser,
			Entrypoint: []string{"/pause"},
			Labels:     map[string]string{LabelBuiltin: valuePause},
		},
		RootFS:  ocispec.RootFS{Type: "layers", DiffIDs: []digest.Digest{b.layer.Digest}},
		History: []ocispec.History{{Created: &epoch, CreatedBy: "berthd: built-in pause image, /pause is berth-pause"}},
	}
	cfgJSON, err := json.Marshal(cfg)
	if err != nil {
		return builtImage{}, err
	}
	b.config = b.add(ocispec.MediaTypeImageConfig, cfgJSON)

	manifest := ocispec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageManifest,
		Config:    b.config,
		Layers:    []ocispec.Descriptor{b.layer},
	}
	mJSON, err := json.Marshal(manifest)
	if err != nil {
		return builtImage{}, err
	}
	b.manifest = b.add(ocispec.MediaTypeImageManifest, mJSON)
	return b, nil
}

func (b *builtImage) add(mediaType string, data []byte) ocispec.Descriptor {
	d := digest.FromBytes(data)
	b.blobs[d] = data
	return ocispec.Descriptor{MediaType: mediaType, Digest: d, Size: int64(len(data))}
}

// EnsurePause makes sure the pause image ref exists, unpacked and pinned,
// with no registry: it builds the image from the berth-pause binary at
// pauseBinary and imports it. An image under ref that Berth did not build
// (an operator pulled or imported their own) is kept as it is, only
// pinned. One Berth built from another binary is replaced. pauseBinary may
// be empty when ref is expected to be present already.
func (s *Service) EnsurePause(ctx context.Context, ref, pauseBinary string) (Image, error) {
	named, err := Normalize(ref)
	if err != nil {
		return Image{}, fmt.Errorf("pause image: %w", err)
	}
	name := named.String()
	img, err := s.ensurePause(s.withNamespace(ctx), name, pauseBinary)
	if err == nil && pauseBinary != "" && name == s.pauseRef {
		s.mu.Lock()
		s.pauseBinary = pauseBinary
		s.mu.Unlock()
	}
	return img, err
}

func (s *Service) ensurePause(ctx context.Context, name, pauseBinary string) (Image, error) {
	existing, err := s.client.ImageService().Get(ctx, name)
	found := err == nil
	if err != nil && !errdefs.IsNotFound(err) {
		return Image{}, fmt.Errorf("pause image %s: %w", name, err)
	}
	if found && (existing.Labels[LabelBuiltin] != valuePause || pauseBinary == "") {
		s.log.Info("pause image present; keeping it", "ref", name, "builtin", existing.Labels[LabelBuiltin] == valuePause)
		return s.adopt(ctx, existing)
	}
	if pauseBinary == "" {
		return Image{}, fmt.Errorf("pause image %s is not present and no berth-pause binary was found to build it: %w", name, errdefs.ErrNotFound)
	}
	binary, err := os.ReadFile(pauseBinary)
	if err != nil {
		return Image{}, fmt.Errorf("read the pause binary: %w", err)
	}
	built, err := buildPauseImage(binary, platforms.DefaultSpec())
	if err != nil {
		return Image{}, err
	}
	if found && existing.Target.Digest == built.manifest.Digest {
		return s.adopt(ctx, existing)
	}
	var oldID string
	if found {
		if old, err := s.inspect(ctx, existing); err == nil {
			oldID = old.ID
		}
	}
	if err := s.importBuilt(ctx, name, built); err != nil {
		return Image{}, fmt.Errorf("import the built-in pause image as %s: %w", name, err)
	}
	img, err := s.store.resolve(name)
	if err != nil {
		return Image{}, err
	}
	s.log.Info("built-in pause image imported", "ref", name, "id", img.ID, "binary", pauseBinary)
	if oldID != "" && oldID != img.ID {
		s.dropOrphanID(ctx, oldID)
	}
	return img, nil
}

// importBuilt writes the blobs, names the image (name and ID) and unpacks
// it. A lease keeps the blobs from containerd's GC until the names hold
// them.
func (s *Service) importBuilt(ctx context.Context, name string, b builtImage) error {
	lctx, done, err := s.client.WithLease(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = done(context.WithoutCancel(ctx)) }() // a lease left behind expires on its own
	cs := s.client.ContentStore()
	for _, desc := range []ocispec.Descriptor{b.layer, b.config} {
		if err := content.WriteBlob(lctx, cs, "berth-pause-"+desc.Digest.String(), bytes.NewReader(b.blobs[desc.Digest]), desc); err != nil {
			return err
		}
	}
	// The manifest's GC labels keep its config and layer alive once the
	// image names it.
	gcRefs := map[string]string{
		"containerd.io/gc.ref.content.config": b.config.Digest.String(),
		"containerd.io/gc.ref.content.l.0":    b.layer.Digest.String(),
	}
	if err := content.WriteBlob(lctx, cs, "berth-pause-"+b.manifest.Digest.String(), bytes.NewReader(b.blobs[b.manifest.Digest]), b.manifest, content.WithLabels(gcRefs)); err != nil {
		return err
	}
	// The name is pinned, the ID is not: should the name move to another
	// image (an operator's pull), this one becomes collectable.
	id := b.config.Digest.String()
	for n, pinned := range map[string]bool{name: true, id: false} {
		labels := s.labels(n, pinned)
		labels[LabelBuiltin] = valuePause
		if err := s.putName(lctx, n, b.manifest, labels); err != nil {
			return err
		}
	}
	ci, err := s.client.ImageService().Get(lctx, name)
	if err != nil {
		return err
	}
	if err := s.unpack(lctx, ci); err != nil {
		return err
	}
	for _, n := range []string{name, id} {
		if err := s.refresh(ctx, n); err != nil {
			return err
		}
	}
	return nil
}

// adopt makes an image present under ci.Name the pause image: the name
// pinned, the image named by its ID, unpacked, indexed.
func (s *Service) adopt(ctx context.Context, ci images.Image) (Image, error) {
	img, err := s.inspect(ctx, ci)
	if err != nil {
		return Image{}, fmt.Errorf("pause image %s: %w", ci.Name, err)
	}
	for n, pinned := range map[string]bool{ci.Name: true, img.ID: false} {
		if err := s.putName(ctx, n, ci.Target, s.labels(n, pinned)); err != nil {
			return Image{}, fmt.Errorf("pin pause image %s: %w", n, err)
		}
	}
	if err := s.unpack(ctx, ci); err != nil {
		return Image{}, err
	}
	for _, n := range []string{ci.Name, img.ID} {
		if err := s.refresh(ctx, n); err != nil {
			return Image{}, err
		}
	}
	return s.store.resolve(ci.Name)
}

// unpack unpacks ci into the snapshotter unless it is already.
func (s *Service) unpack(ctx context.Context, ci images.Image) error {
	img := containerd.NewImageWithPlatform(s.client, ci, s.platform)
	ok, err := img.IsUnpacked(ctx, s.snapshotter)
	if err != nil {
		return fmt.Errorf("image %s: check unpacked: %w", ci.Name, err)
	}
	if ok {
		return nil
	}
	if err := img.Unpack(ctx, s.snapshotter); err != nil {
		return fmt.Errorf("image %s: unpack into %s: %w", ci.Name, s.snapshotter, err)
	}
	return nil
}

// dropOrphanID removes the ID name of a replaced built-in pause image
// when nothing else names it, so no tagless image is left behind.
func (s *Service) dropOrphanID(ctx context.Context, id string) {
	names := s.store.namesOf(id)
	if len(names) != 1 || names[0] != id {
		return
	}
	if err := s.client.ImageService().Delete(ctx, id); err != nil && !errdefs.IsNotFound(err) {
		s.log.Warn("cannot remove the replaced pause image", "id", id, "error", err)
		return
	}
	s.unindexed(id)
}

// PauseImage returns the sandbox image, making it again if it was removed
// (CRI lets a user remove even a pinned image): built in when Berth built
// it before, else pulled.
func (s *Service) PauseImage(ctx context.Context) (Image, error) {
	if img, err := s.store.resolve(s.pauseRef); err == nil {
		return img, nil
	}
	s.mu.Lock()
	binary := s.pauseBinary
	s.mu.Unlock()
	return s.pulls.do(s.withNamespace(ctx), "pause\x00"+s.pauseRef, func(ctx context.Context) (Image, error) {
		if img, err := s.store.resolve(s.pauseRef); err == nil {
			return img, nil
		}
		if binary != "" {
			return s.EnsurePause(ctx, s.pauseRef, binary)
		}
		named, err := Normalize(s.pauseRef)
		if err != nil {
			return Image{}, err
		}
		return s.pull(ctx, named, Auth{})
	})
}
