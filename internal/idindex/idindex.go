package idindex

import (
	"fmt"
	"strings"
	"sync"

	"github.com/containerd/errdefs"
)

// Index maps IDs to objects; it is safe for concurrent use.
type Index[T any] struct {
	kind  string // "sandbox", "container": names the object in errors
	mu    sync.RWMutex
	items map[string]T
}

// New returns an empty index of objects of the given kind.
func New[T any](kind string) *Index[T] {
	return &Index[T]{kind: kind, items: map[string]T{}}
}

// Add indexes v under id, replacing what was there.
func (x *Index[T]) Add(id string, v T) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.items[id] = v
}

// Delete drops id; an unknown id is fine.
func (x *Index[T]) Delete(id string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	delete(x.items, id)
}

// Get finds an object by its ID or a unique prefix of it. An empty or
// ambiguous prefix is InvalidArgument; no match is NotFound.
func (x *Index[T]) Get(idOrPrefix string) (T, error) {
	var zero T
	if idOrPrefix == "" {
		return zero, fmt.Errorf("%s ID must not be empty: %w", x.kind, errdefs.ErrInvalidArgument)
	}
	x.mu.RLock()
	defer x.mu.RUnlock()
	if v, ok := x.items[idOrPrefix]; ok {
		return v, nil
	}
	found, matches := zero, 0
	for id, v := range x.items {
		if strings.HasPrefix(id, idOrPrefix) {
			found, matches = v, matches+1
		}
	}
	switch matches {
	case 0:
		return zero, fmt.Errorf("%s %q: %w", x.kind, idOrPrefix, errdefs.ErrNotFound)
	case 1:
		return found, nil
	}
	return zero, fmt.Errorf("%s ID prefix %q matches %d %ss: %w", x.kind, idOrPrefix, matches, x.kind, errdefs.ErrInvalidArgument)
}

// List returns every object, in no particular order.
func (x *Index[T]) List() []T {
	x.mu.RLock()
	defer x.mu.RUnlock()
	out := make([]T, 0, len(x.items))
	for _, v := range x.items {
		out = append(out, v)
	}
	return out
}
