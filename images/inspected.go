package images

import (
	"sync"

	"github.com/opencontainers/go-digest"
)

// inspectedSize bounds how many manifests the memo keeps: a few hundred
// bytes of config each.
const inspectedSize = 64

// inspectedMemo remembers what a pull read back of the manifests it
// pulled, by the manifest's digest (for Berth's one platform): content is
// addressed by digest, so what a digest names never changes. Pulling a
// manifest again (imagePullPolicy Always; a pull after a removal) then
// reads nothing back before naming the image. Only pulls fill it: after a
// pull every blob is present, so the size, which counts present blobs
// only, is the whole image's.
type inspectedMemo struct {
	mu    sync.Mutex
	byKey map[digest.Digest]Image
	order []digest.Digest // oldest first
}

func (m *inspectedMemo) get(manifest digest.Digest) (Image, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	img, ok := m.byKey[manifest]
	return img, ok
}

// put remembers img under manifest, forgetting the oldest beyond
// inspectedSize. img carries no names: they change, its content does not.
func (m *inspectedMemo) put(manifest digest.Digest, img Image) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.byKey == nil {
		m.byKey = map[digest.Digest]Image{}
	}
	if _, ok := m.byKey[manifest]; !ok {
		m.order = append(m.order, manifest)
	}
	img.References, img.tags, img.digests, img.split, img.Pinned = nil, nil, nil, false, false
	m.byKey[manifest] = img
	for len(m.order) > inspectedSize {
		delete(m.byKey, m.order[0])
		m.order = m.order[1:]
	}
}
