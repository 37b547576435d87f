package images

import (
	"fmt"
	"testing"

	"github.com/opencontainers/go-digest"
)

func TestInspectedMemoKeepsContentNotNames(t *testing.T) {
	var m inspectedMemo
	manifest := digest.FromString("manifest")
	m.put(manifest, Image{ID: "sha256:cfg", Size: 42, References: []string{"a:1"}, Pinned: true, tags: []string{"a:1"}, split: true})
	got, ok := m.get(manifest)
	if !ok {
		t.Fatal("a manifest just put is not remembered")
	}
	if got.ID != "sha256:cfg" || got.Size != 42 {
		t.Errorf("remembered %+v, want the ID and size put", got)
	}
	// The names belong to the index, which changes: a pull gets the
	// image's content from the memo and its names from containerd.
	if got.References != nil || got.Pinned || got.RepoTags() != nil {
		t.Errorf("remembered names or pinning: %+v", got)
	}
	if _, ok := m.get(digest.FromString("other")); ok {
		t.Error("an unknown manifest is remembered")
	}
}

func TestInspectedMemoForgetsTheOldest(t *testing.T) {
	var m inspectedMemo
	key := func(i int) digest.Digest { return digest.FromString(fmt.Sprint(i)) }
	for i := range inspectedSize + 2 {
		m.put(key(i), Image{ID: fmt.Sprint(i)})
	}
	m.put(key(5), Image{ID: "5 again"}) // known: no second entry
	for i := range 2 {
		if _, ok := m.get(key(i)); ok {
			t.Errorf("manifest %d, among the oldest beyond %d, is still remembered", i, inspectedSize)
		}
	}
	for i := 2; i < inspectedSize+2; i++ {
		if _, ok := m.get(key(i)); !ok {
			t.Errorf("manifest %d is forgotten", i)
		}
	}
	if got, _ := m.get(key(5)); got.ID != "5 again" {
		t.Errorf("manifest 5 is %q, want the latest put", got.ID)
	}
	if len(m.byKey) != inspectedSize || len(m.order) != inspectedSize {
		t.Errorf("memo holds %d (order %d), want %d", len(m.byKey), len(m.order), inspectedSize)
	}
}
