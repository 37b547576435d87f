package sandbox

import (
	"context"
	"sync"
)

// registrar maps sandbox names to IDs. A name is reserved before any
// resource is acquired and released when the sandbox is removed or its Run
// failed. A second Run with the same name (kubelet retrying after its
// deadline) waits for the first to finish and gets its sandbox, rather than
// "name is reserved" (CRI-O's reservePodNameOrGetExisting).
type registrar struct {
	mu    sync.Mutex
	names map[string]*reservation
}

type reservation struct {
	id   string
	done chan struct{} // closed when the owning Run finished
	err  error         // the owning Run's error, valid once done
}

func newRegistrar() *registrar { return &registrar{names: map[string]*reservation{}} }

// reserve reserves name for id, or returns the ID of the sandbox that
// holds the name, once the Run that reserved it has succeeded. If that Run
// fails, the name is free again and reserve tries anew.
func (r *registrar) reserve(ctx context.Context, name, id string) (res *reservation, existingID string, err error) {
	for {
		r.mu.Lock()
		held, ok := r.names[name]
		if !ok {
			res := &reservation{id: id, done: make(chan struct{})}
			r.names[name] = res
			r.mu.Unlock()
			return res, "", nil
		}
		r.mu.Unlock()
		select {
		case <-held.done:
			if held.err == nil {
				return nil, held.id, nil
			}
			// The owner failed and released the name: try again.
		case <-ctx.Done():
			return nil, "", ctx.Err()
		}
	}
}

// finish records the owning Run's outcome; a failure releases the name.
func (r *registrar) finish(name string, res *reservation, err error) {
	r.mu.Lock()
	res.err = err
	if err != nil && r.names[name] == res {
		delete(r.names, name)
	}
	r.mu.Unlock()
	close(res.done)
}

// restore re-reserves a recovered sandbox's name.
func (r *registrar) restore(name, id string) {
	res := &reservation{id: id, done: make(chan struct{})}
	close(res.done)
	r.mu.Lock()
	r.names[name] = res
	r.mu.Unlock()
}

// release frees a removed sandbox's name, if id still holds it.
func (r *registrar) release(name, id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if res, ok := r.names[name]; ok && res.id == id {
		delete(r.names, name)
	}
}
