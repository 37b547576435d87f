package sandbox

import (
	"fmt"
	"net/netip"
	"sync"
	"time"

	"github.com/containerd/errdefs"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Metadata is fixed when a sandbox is created.
type Metadata struct {
	ID string `json:"id"`
	// Name is the registrar key: name_namespace_uid_attempt.
	Name           string                       `json:"name"`
	Config         *runtimeapi.PodSandboxConfig `json:"config"`
	RuntimeHandler string                       `json:"runtimeHandler"`
	CreatedAt      time.Time                    `json:"createdAt"`
	// NetNSPath is the pinned network namespace; empty for host network.
	NetNSPath string `json:"netnsPath,omitempty"`
	// Dir holds the pod's hostname, hosts and resolv.conf files.
	Dir string `json:"dir"`
	// ShmPath is the pod's /dev/shm tmpfs; empty when the pod shares the
	// host's IPC namespace (and so /dev/shm).
	ShmPath string `json:"shmPath,omitempty"`
}

// HostNetwork reports whether the pod uses the node's network namespace.
func (m *Metadata) HostNetwork() bool {
	return m.Config.GetLinux().GetSecurityContext().GetNamespaceOptions().GetNetwork() == runtimeapi.NamespaceMode_NODE
}

// Status changes over a sandbox's life. The state machine:
//
//	          Run ok            Stop / pause exits
//	(created) -------> READY ----------------------> NOTREADY --Remove--> (gone)
//	    |                                               ^
//	    +-------- Run failed, cleanup failed -----------+
//
// A sandbox never goes back to READY: kubelet creates a new attempt.
type Status struct {
	State runtimeapi.PodSandboxState
	// Pid of the pause process, 0 once it exited.
	Pid uint32
	// IPs from CNI; IPs[0] is the pod IP.
	IPs []netip.Addr
	// NetworkTornDown is set once CNI DEL, the hostPort release, the
	// conntrack purge and the netns removal all succeeded.
	NetworkTornDown bool
	// Problem says why a sandbox is NOTREADY when it should not be (a failed
	// cleanup); empty otherwise.
	Problem string
}

// Sandbox is one pod sandbox: immutable Metadata and a Status changed
// only through Update.
type Sandbox struct {
	Metadata

	mu     sync.Mutex
	status Status
	// lifecycle serialises Stop and Remove of this sandbox.
	lifecycle sync.Mutex
}

func newSandbox(m Metadata, s Status) *Sandbox { return &Sandbox{Metadata: m, status: s} }

// Status returns a copy of the current status.
func (s *Sandbox) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.status
	st.IPs = append([]netip.Addr(nil), s.status.IPs...)
	return st
}

// Update changes the status atomically; an error leaves it unchanged.
func (s *Sandbox) Update(fn func(Status) (Status, error)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	next, err := fn(s.status)
	if err != nil {
		return err
	}
	s.status = next
	return nil
}

// Store indexes sandboxes by ID, for List and Status from memory.
type Store struct {
	mu        sync.RWMutex
	sandboxes map[string]*Sandbox
}

// NewStore returns an empty store.
func NewStore() *Store { return &Store{sandboxes: map[string]*Sandbox{}} }

func (s *Store) add(sb *Sandbox) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sandboxes[sb.ID] = sb
}

func (s *Store) delete(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.sandboxes, id)
}

// Get finds a sandbox by its ID or a unique prefix of it, as crictl lets
// users type. An ambiguous prefix is InvalidArgument; no match is NotFound.
func (s *Store) Get(idOrPrefix string) (*Sandbox, error) {
	if idOrPrefix == "" {
		return nil, fmt.Errorf("sandbox ID must not be empty: %w", errdefs.ErrInvalidArgument)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if sb, ok := s.sandboxes[idOrPrefix]; ok {
		return sb, nil
	}
	var found *Sandbox
	for id, sb := range s.sandboxes {
		if len(id) > len(idOrPrefix) && id[:len(idOrPrefix)] == idOrPrefix {
			if found != nil {
				return nil, fmt.Errorf("sandbox ID prefix %q matches more than one sandbox: %w", idOrPrefix, errdefs.ErrInvalidArgument)
			}
			found = sb
		}
	}
	if found == nil {
		return nil, fmt.Errorf("sandbox %q: %w", idOrPrefix, errdefs.ErrNotFound)
	}
	return found, nil
}

// List returns every sandbox.
func (s *Store) List() []*Sandbox {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]*Sandbox, 0, len(s.sandboxes))
	for _, sb := range s.sandboxes {
		out = append(out, sb)
	}
	return out
}
