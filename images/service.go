package images

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	contentapi "github.com/containerd/containerd/api/services/content/v1"
	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/content"
	"github.com/containerd/containerd/v2/core/images"
	"github.com/containerd/containerd/v2/core/images/usage"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/containerd/errdefs"
	"github.com/containerd/errdefs/pkg/errgrpc"
	"github.com/containerd/platforms"
	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/identity"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"google.golang.org/grpc"
)

// Labels on containerd images Berth keeps.
const (
	// LabelManaged marks an image as Berth's.
	LabelManaged = "io.berth.image"
	// LabelPinned marks a name as pinned: its image is reported pinned and
	// kubelet's image GC leaves it alone. Berth pins the pause image.
	LabelPinned = "io.berth.image.pinned"
	// LabelBuiltin marks the pause image Berth built itself, so a new
	// berth-pause replaces it while one an operator pulled is left alone.
	LabelBuiltin = "io.berth.image.builtin"

	valueManaged = "managed"
	valuePinned  = "pinned"
	valuePause   = "pause"
)

// DefaultSnapshotter is where images are unpacked.
const DefaultSnapshotter = "overlayfs"

// Config is what a Service pulls, stores and indexes images with:
// containerd, in one namespace and snapshotter, for one platform, with the
// registries' hosts.toml files.
type Config struct {
	Client *containerd.Client
	// Namespace is the containerd namespace of Berth's images.
	Namespace string
	// Snapshotter images are unpacked into; DefaultSnapshotter if empty.
	// Pulls unpack inside containerd, whose transfer service must list
	// this snapshotter and Platform in its unpack_config (the supervised
	// containerd's config does); a pull it leaves packed, Berth unpacks.
	Snapshotter string
	// Platform images are pulled for; the host's (linux/amd64 here) if nil.
	Platform *ocispec.Platform
	// RegistryConfigDir holds hosts.toml files (<dir>/<host>/hosts.toml).
	RegistryConfigDir string
	// PullProgressTimeout cancels a pull that received nothing for this
	// long; 0 never does.
	PullProgressTimeout time.Duration
	// PauseImage is the sandbox image reference; pulls of it are pinned.
	PauseImage string
	// TransferUnpacks says that containerd's transfer service unpacks
	// every pull for Platform and Snapshotter, as in the config berthd
	// writes for the containerd it supervises: a pull is then not checked
	// for an unpacked snapshot afterwards.
	TransferUnpacks bool
	Logger          *slog.Logger
}

// Service is Berth's image store on top of containerd's.
type Service struct {
	client          *containerd.Client
	namespace       string
	snapshotter     string
	platformSpec    ocispec.Platform
	platform        platforms.MatchComparer
	hostsDir        string
	progressTimeout time.Duration
	pauseRef        string
	transferUnpacks bool
	log             *slog.Logger

	// pauseBinary is the berth-pause binary the pause image was built
	// from, to build it again if it is removed.
	mu          sync.Mutex
	pauseBinary string

	// contentAPI reads blobs in one round trip (blobCache); nil if the
	// client's connection is not gRPC.
	contentAPI contentapi.ContentClient

	store     *store
	refreshMu sync.Mutex // one refresh at a time (see refresh)
	watch     watcher
	inspected inspectedMemo
	pulls     flights
	fsInfo    fsCache
	now       func() time.Time
}

// New returns a Service with an empty index: call Load.
func New(cfg Config) (*Service, error) {
	if cfg.Client == nil || cfg.Namespace == "" {
		return nil, fmt.Errorf("images: a containerd client and namespace are required: %w", errdefs.ErrInvalidArgument)
	}
	s := &Service{
		client:          cfg.Client,
		namespace:       cfg.Namespace,
		snapshotter:     cfg.Snapshotter,
		platformSpec:    platforms.DefaultSpec(),
		hostsDir:        cfg.RegistryConfigDir,
		progressTimeout: cfg.PullProgressTimeout,
		transferUnpacks: cfg.TransferUnpacks,
		log:             cfg.Logger,
		store:           newStore(),
		now:             time.Now,
	}
	if s.snapshotter == "" {
		s.snapshotter = DefaultSnapshotter
	}
	if conn, ok := cfg.Client.Conn().(grpc.ClientConnInterface); ok {
		s.contentAPI = contentapi.NewContentClient(conn)
	}
	if cfg.Platform != nil {
		s.platformSpec = *cfg.Platform
	}
	s.platform = platforms.Only(s.platformSpec)
	if s.log == nil {
		s.log = slog.Default()
	}
	s.pulls.log = s.log
	if cfg.PauseImage != "" {
		named, err := Normalize(cfg.PauseImage)
		if err != nil {
			return nil, fmt.Errorf("pause image: %w", err)
		}
		s.pauseRef = named.String()
	}
	return s, nil
}

// Snapshotter is the snapshotter images are unpacked into, which
// containers' root filesystems must use too.
func (s *Service) Snapshotter() string { return s.snapshotter }

func (s *Service) withNamespace(ctx context.Context) context.Context {
	return namespaces.WithNamespace(ctx, s.namespace)
}

// Load rebuilds the index from containerd's image store, and gives every
// image an ID name if it lacks one (an image imported by other means). An
// image whose content is incomplete is logged and left out.
func (s *Service) Load(ctx context.Context) error {
	ctx = s.withNamespace(ctx)
	all, err := s.client.ImageService().List(ctx)
	if err != nil {
		return fmt.Errorf("list images in containerd: %w", err)
	}
	byTarget := map[string]Image{} // manifest digest -> inspected image
	for _, ci := range all {
		img, ok := byTarget[ci.Target.Digest.String()]
		if !ok {
			img, err = s.inspect(ctx, ci)
			if err != nil {
				s.log.Warn("image in containerd is not usable; leaving it out", "name", ci.Name, "error", err)
				continue
			}
			byTarget[ci.Target.Digest.String()] = img
		}
		s.store.put(ci.Name, img, ci.Labels[LabelPinned] == valuePinned)
	}
	for _, img := range s.store.list() {
		if containsName(img.References, img.ID) {
			continue
		}
		if err := s.putName(ctx, img.ID, img.Target, s.labels(img.ID, false)); err != nil {
			return fmt.Errorf("name image %s by its ID: %w", img.ID, err)
		}
		s.store.put(img.ID, img, false)
	}
	s.log.Info("image index loaded", "images", len(s.store.list()), "names", len(all))
	return nil
}

func containsName(names []string, n string) bool {
	for _, x := range names {
		if x == n {
			return true
		}
	}
	return false
}

// refresh brings the index in step with containerd for one name: what
// containerd has under it now, read again if an own write of the name
// raced with the read (store.apply). An image not seen before is named by
// its ID too, as Load and containerd's CRI do, so that it stays usable
// when the name that brought it moves. Refreshes run one at a time.
func (s *Service) refresh(ctx context.Context, name string) error {
	s.refreshMu.Lock()
	defer s.refreshMu.Unlock()
	for {
		stamp := s.store.stamp(name)
		img, pinned, err := s.read(ctx, name)
		var unusable *unusableError
		if errors.As(err, &unusable) {
			s.store.apply(name, stamp, nil, false) // the name no longer gives a usable image
			return err
		}
		if err != nil {
			return err
		}
		if !s.store.apply(name, stamp, img, pinned) {
			continue
		}
		if img == nil || img.ID == name || containsName(s.store.namesOf(img.ID), img.ID) {
			return nil
		}
		if err := s.putName(ctx, img.ID, img.Target, s.labels(img.ID, false)); err != nil {
			return fmt.Errorf("name image %s by its ID: %w", img.ID, err)
		}
		s.indexed(img.ID, *img, false)
		return nil
	}
}

// read returns the image containerd has under name, nil if none: from the
// index when it holds that manifest already, else read from the content
// store.
func (s *Service) read(ctx context.Context, name string) (*Image, bool, error) {
	ci, err := s.client.ImageService().Get(ctx, name)
	if errdefs.IsNotFound(err) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("get image %s from containerd: %w", name, err)
	}
	pinned := ci.Labels[LabelPinned] == valuePinned
	img, ok := s.store.byTarget(ci.Target.Digest)
	if !ok {
		img, ok = s.inspected.get(ci.Target.Digest) // a pull of it is naming it now
	}
	if !ok {
		if img, err = s.inspect(ctx, ci); err != nil {
			if !isContentError(err) {
				return nil, false, err // containerd did not answer: the image may be fine
			}
			return nil, false, &unusableError{target: ci.Target.Digest, err: err}
		}
	}
	return &img, pinned, nil
}

// unusableError says containerd names an image whose content Berth cannot
// read for its platform (incomplete, another platform's only).
type unusableError struct {
	target digest.Digest
	err    error
}

func (e *unusableError) Error() string { return e.err.Error() }
func (e *unusableError) Unwrap() error { return e.err }

// isContentError reports whether inspect failed on the image's content
// (a blob or a platform missing, a config that does not parse), not on
// reaching containerd.
func isContentError(err error) bool {
	return errdefs.IsNotFound(err) || errdefs.IsDataLoss(err) || errdefs.IsInvalidArgument(err) ||
		errdefs.IsFailedPrecondition(err) || errdefs.IsNotImplemented(err)
}

// inspect reads what the index keeps of a containerd image from the
// content store: the config for Berth's platform (whose digest is the
// ID), the layers' chain ID, the size.
func (s *Service) inspect(ctx context.Context, ci images.Image) (Image, error) {
	cs := &blobCache{Store: s.client.ContentStore(), api: s.contentAPI}
	configDesc, err := ci.Config(ctx, cs, s.platform)
	if err != nil {
		return Image{}, fmt.Errorf("image %s: config for %s: %w", ci.Name, platforms.Format(platforms.DefaultSpec()), err)
	}
	blob, err := content.ReadBlob(ctx, cs, configDesc)
	if err != nil {
		return Image{}, fmt.Errorf("image %s: read config: %w", ci.Name, err)
	}
	var cfg ocispec.Image
	if err := json.Unmarshal(blob, &cfg); err != nil {
		return Image{}, fmt.Errorf("image %s: config %s is not valid JSON: %v: %w", ci.Name, configDesc.Digest, err, errdefs.ErrDataLoss)
	}
	size, err := usage.CalculateImageUsage(ctx, ci, cs, usage.WithManifestLimit(s.platform, 1), usage.WithManifestUsage())
	if err != nil {
		return Image{}, fmt.Errorf("image %s: size: %w", ci.Name, err)
	}
	return Image{
		ID:      configDesc.Digest.String(),
		Target:  ci.Target,
		ChainID: identity.ChainID(cfg.RootFS.DiffIDs),
		Size:    size,
		Config:  cfg,
	}, nil
}

// labels are the containerd labels of an image name.
func (s *Service) labels(name string, pinned bool) map[string]string {
	l := map[string]string{LabelManaged: valueManaged}
	if pinned || (s.pauseRef != "" && name == s.pauseRef) {
		l[LabelPinned] = valuePinned
	}
	return l
}

// putName creates the containerd image name pointing at target, or moves
// it there, with labels (a pinned name stays pinned).
func (s *Service) putName(ctx context.Context, name string, target ocispec.Descriptor, labels map[string]string) error {
	_, err := s.putNameLabels(ctx, name, target, labels)
	return err
}

// putNameLabels is putName that also returns the name's labels as
// containerd now has them (a pin set earlier stays).
func (s *Service) putNameLabels(ctx context.Context, name string, target ocispec.Descriptor, labels map[string]string) (map[string]string, error) {
	is := s.client.ImageService()
	img := images.Image{Name: name, Target: target, Labels: labels}
	for {
		created, err := is.Create(ctx, img)
		if err == nil || !errdefs.IsAlreadyExists(err) {
			return created.Labels, err
		}
		old, err := is.Get(ctx, name)
		if errdefs.IsNotFound(err) {
			continue // removed in between: create again
		}
		if err != nil {
			return nil, err
		}
		fields := []string{"target"}
		for k, v := range labels {
			if old.Labels[k] != v {
				fields = append(fields, "labels."+k)
			}
		}
		if old.Target.Digest == target.Digest && len(fields) == 1 {
			return old.Labels, nil
		}
		updated, err := is.Update(ctx, img, fields...)
		if errdefs.IsNotFound(err) {
			continue
		}
		return updated.Labels, err
	}
}

// Resolve finds a local image by ID, reference or unique ID prefix (see
// store.resolve). It answers from memory; errdefs.ErrNotFound when absent.
func (s *Service) Resolve(refOrID string) (Image, error) { return s.store.resolve(refOrID) }

// List returns every image, sorted by ID.
func (s *Service) List() []Image { return s.store.list() }

// Containerd returns img as a containerd image, from the index, without a
// round trip: its target is all that unpacking and reading it need, and
// containerd has it under its ID, the name the index keeps.
func (s *Service) Containerd(img Image) containerd.Image {
	return containerd.NewImageWithPlatform(s.client, images.Image{Name: img.ID, Target: img.Target}, s.platform)
}

// PauseRef is the normalised pause image reference sandboxes run.
func (s *Service) PauseRef() string { return s.pauseRef }

// errorsIsStall reports whether err is a watchdog cancellation.
func errorsIsStall(err error) bool {
	var se *stallError
	return errors.As(err, &se)
}

// blobCache reads each blob from containerd once: inspect walks an
// image's manifest twice, for the config and for the size. With api, a
// blob of known size is read in one round trip where the content store
// client takes two (Info for the size, then Read).
type blobCache struct {
	content.Store
	api   contentapi.ContentClient
	mu    sync.Mutex
	blobs map[digest.Digest][]byte
}

func (c *blobCache) ReaderAt(ctx context.Context, desc ocispec.Descriptor) (content.ReaderAt, error) {
	c.mu.Lock()
	b, ok := c.blobs[desc.Digest]
	c.mu.Unlock()
	if !ok {
		var err error
		if b, err = c.read(ctx, desc); err != nil {
			return nil, err
		}
		c.mu.Lock()
		if c.blobs == nil {
			c.blobs = map[digest.Digest][]byte{}
		}
		c.blobs[desc.Digest] = b
		c.mu.Unlock()
	}
	return bytesReaderAt{bytes.NewReader(b)}, nil
}

// maxDirectRead bounds the blobs read whole in one request: manifests and
// configs, never layers.
const maxDirectRead = 4 << 20

func (c *blobCache) read(ctx context.Context, desc ocispec.Descriptor) ([]byte, error) {
	if c.api == nil || desc.Size <= 0 || desc.Size > maxDirectRead {
		return content.ReadBlob(ctx, c.Store, desc)
	}
	ctx, cancel := context.WithCancel(ctx) // ends the stream however the read ends
	defer cancel()
	rc, err := c.api.Read(ctx, &contentapi.ReadContentRequest{Digest: desc.Digest.String()})
	if err != nil {
		return nil, errgrpc.ToNative(err)
	}
	b := make([]byte, 0, desc.Size)
	for {
		resp, err := rc.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, errgrpc.ToNative(err)
		}
		if int64(len(b)+len(resp.Data)) > desc.Size {
			break // more than the descriptor says: fails the check below
		}
		b = append(b, resp.Data...)
	}
	if int64(len(b)) != desc.Size || digest.FromBytes(b) != desc.Digest {
		return nil, fmt.Errorf("blob %s: content does not match its descriptor: %w", desc.Digest, errdefs.ErrDataLoss)
	}
	return b, nil
}

type bytesReaderAt struct{ *bytes.Reader }

func (bytesReaderAt) Close() error { return nil }
