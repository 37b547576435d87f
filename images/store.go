package images

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/containerd/errdefs"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Image is what Berth knows of one image: what CRI reports of it and what
// creating a container from it needs. Values are copies: changing one
// changes nothing else.
type Image struct {
	// ID is the digest of the image config for Berth's platform. It names
	// the image in every RPC: PullImage's image_ref, Image.id, a
	// container's image_id.
	ID string
	// References are the containerd image names pointing at it, sorted:
	// repo tags, repo digests and the ID itself.
	References []string
	// Target is the manifest (or index) the names point at.
	Target ocispec.Descriptor
	// ChainID names the top snapshot of the unpacked layers.
	ChainID digest.Digest
	// Size is the compressed size of the manifest, config and layers for
	// Berth's platform.
	Size int64
	// Config is the OCI image config (entrypoint, env, user...).
	Config ocispec.Image
	// Pinned images are exempt from kubelet's image garbage collection.
	Pinned bool

	// tags and digests are References parsed, kept by the index (split
	// says so): parsing a reference is a regular expression match, about
	// 10 µs a name, and ListImages asks for every image's on every call.
	tags, digests []string
	split         bool
}

// RepoTags are the name:tag references of the image, sorted.
func (i Image) RepoTags() []string {
	if i.split {
		return slices.Clone(i.tags)
	}
	tags, _ := splitReferences(i.References)
	return tags
}

// RepoDigests are the name@digest references of the image, sorted.
func (i Image) RepoDigests() []string {
	if i.split {
		return slices.Clone(i.digests)
	}
	_, digests := splitReferences(i.References)
	return digests
}

// User reads the config's user as CRI reports it: a numeric user (before
// any ":group") is a UID, anything else a user name; both are empty when
// the image names no user.
func (i Image) User() (uid *int64, username string) {
	user, _, _ := strings.Cut(i.Config.Config.User, ":")
	if user == "" {
		return nil, ""
	}
	if n, err := strconv.ParseInt(user, 10, 64); err == nil {
		return &n, ""
	}
	return nil, user
}

// store is the in-memory index: containerd image name -> image ID -> what
// is known of the image. It does no I/O; Service keeps it in step with
// containerd.
//
// Two kinds of write reach it: Berth's own (set, drop), made right after
// Berth changed containerd, and a refresh's (apply), which carries what
// containerd said of a name some time ago. A refresh that read containerd
// before an own write of the same name landed would undo that write with
// older news, so every own write stamps the name (gens) and apply refuses
// a refresh whose stamp is not the one it started with: the caller reads
// containerd again.
type store struct {
	mu     sync.RWMutex
	names  map[string]string // containerd image name -> image ID
	images map[string]*entry // image ID -> entry
	gens   map[string]uint64 // name -> stamp of its last own write, until a refresh applies
	gen    uint64
}

type entry struct {
	img   Image           // References and Pinned are derived from names
	names map[string]bool // containerd image name -> pinned
	view  Image           // img with what names give it, made when they change
}

func newStore() *store {
	return &store{names: map[string]string{}, images: map[string]*entry{}, gens: map[string]uint64{}}
}

// stamp returns the name's stamp, for apply.
func (s *store) stamp(name string) uint64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.gens[name]
}

// apply records what a refresh read of name (nil: containerd has no such
// name) unless an own write of name came after stamp was taken; false
// means it did, and the refresh must read containerd again.
func (s *store) apply(name string, stamp uint64, img *Image, pinned bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gens[name] != stamp {
		return false
	}
	delete(s.gens, name)
	if img == nil {
		if id, ok := s.names[name]; ok {
			s.unlink(name, id)
		}
		return true
	}
	s.link(name, *img, pinned)
	return true
}

// current reports whether name is indexed for the manifest target, with
// this pinning: a refresh would change nothing.
func (s *store) current(name string, target digest.Digest, pinned bool) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	e, ok := s.images[s.names[name]]
	if !ok {
		return false
	}
	p, ok := e.names[name]
	return ok && p == pinned && e.img.Target.Digest == target
}

// byTarget returns an indexed image whose names point at the manifest
// target: content is addressed by digest, so it need not be read again.
func (s *store) byTarget(target digest.Digest) (Image, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, e := range s.images {
		if e.img.Target.Digest == target {
			return e.img, true
		}
	}
	return Image{}, false
}

// allNames returns every indexed containerd image name.
func (s *store) allNames() []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]string, 0, len(s.names))
	for n := range s.names {
		out = append(out, n)
	}
	return out
}

// set records that the containerd image called name is img (of which
// References and Pinned are ignored), pinned or not. A name that pointed
// at another image moves.
func (s *store) set(name string, img Image, pinned bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gen++
	s.gens[name] = s.gen
	s.link(name, img, pinned)
}

func (s *store) link(name string, img Image, pinned bool) {
	if old, ok := s.names[name]; ok && old != img.ID {
		s.unlink(name, old)
	}
	e, ok := s.images[img.ID]
	if !ok {
		e = &entry{img: img, names: map[string]bool{}}
		s.images[img.ID] = e
	}
	e.names[name] = pinned
	s.names[name] = img.ID
	e.refresh()
}

// put is set for Load, which runs before anything else writes: it leaves
// no stamp.
func (s *store) put(name string, img Image, pinned bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.link(name, img, pinned)
}

// drop forgets the containerd image called name; an image left with no
// name is gone.
func (s *store) drop(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gen++
	s.gens[name] = s.gen
	if id, ok := s.names[name]; ok {
		s.unlink(name, id)
	}
}

func (s *store) unlink(name, id string) {
	delete(s.names, name)
	e, ok := s.images[id]
	if !ok {
		return
	}
	delete(e.names, name)
	if len(e.names) == 0 {
		delete(s.images, id)
		return
	}
	e.refresh()
}

// refresh remakes the entry's view after its names changed: references,
// pinning, and the references parsed into repo tags and digests.
func (e *entry) refresh() {
	img := e.img
	img.References = make([]string, 0, len(e.names))
	img.Pinned = false
	for n, pinned := range e.names {
		img.References = append(img.References, n)
		img.Pinned = img.Pinned || pinned
	}
	sort.Strings(img.References)
	img.tags, img.digests = splitReferences(img.References)
	img.split = true
	e.view = img
}

// image returns a copy of the entry with its references and pinning.
func (e *entry) image() Image {
	img := e.view
	img.References = slices.Clone(img.References)
	return img
}

// get returns the image with this exact ID.
func (s *store) get(id string) (Image, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	e, ok := s.images[id]
	if !ok {
		return Image{}, false
	}
	return e.image(), true
}

// list returns every image, sorted by ID.
func (s *store) list() []Image {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]Image, 0, len(s.images))
	for _, e := range s.images {
		out = append(out, e.image())
	}
	slices.SortFunc(out, func(a, b Image) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// namesOf returns the containerd names of image id.
func (s *store) namesOf(id string) []string {
	img, ok := s.get(id)
	if !ok {
		return nil
	}
	return img.References
}

// resolve finds an image the way CRI clients name one: by ID
// ("sha256:<hex>"), by reference in any form kubelet or a user writes it
// ("busybox", "docker.io/library/busybox:latest", "name@sha256:..."), or
// by a unique prefix of its ID as docker and crictl print it. The
// reference wins over the prefix: "abc" is docker.io/library/abc:latest
// before it is an ID starting with abc.
func (s *store) resolve(refOrID string) (Image, error) {
	if refOrID == "" {
		return Image{}, fmt.Errorf("empty image reference: %w", errdefs.ErrInvalidArgument)
	}
	if isID(refOrID) {
		if img, ok := s.get(refOrID); ok {
			return img, nil
		}
		return Image{}, fmt.Errorf("image %q: %w", refOrID, errdefs.ErrNotFound)
	}
	if named, err := Normalize(refOrID); err == nil {
		s.mu.RLock()
		id, ok := s.names[named.String()]
		s.mu.RUnlock()
		if ok {
			if img, ok := s.get(id); ok {
				return img, nil
			}
		}
	}
	if hex := idPrefix(refOrID); hex != "" {
		return s.byPrefix(refOrID, hex)
	}
	return Image{}, fmt.Errorf("image %q: %w", refOrID, errdefs.ErrNotFound)
}

func (s *store) byPrefix(refOrID, hex string) (Image, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var found *entry
	for id, e := range s.images {
		if strings.HasPrefix(strings.TrimPrefix(id, digest.SHA256.String()+":"), hex) {
			if found != nil {
				return Image{}, fmt.Errorf("image ID prefix %q is ambiguous: %w", refOrID, errdefs.ErrInvalidArgument)
			}
			found = e
		}
	}
	if found == nil {
		return Image{}, fmt.Errorf("image %q: %w", refOrID, errdefs.ErrNotFound)
	}
	return found.image(), nil
}
