package sandbox

import (
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/berth-cri/berth/internal/cgroup"
	"github.com/berth-cri/berth/internal/idindex"
)

// Metadata is what a sandbox is made with. Run sets it before the sandbox
// is stored and records it in containerd; nothing changes it after, so it
// is read without a lock. What changes is in Status.
type Metadata struct {
	ID string `json:"id"`
	// Name is the registrar key: name_namespace_uid_attempt.
	Name           string                       `json:"name"`
	Config         *runtimeapi.PodSandboxConfig `json:"config"`
	RuntimeHandler string                       `json:"runtimeHandler"`
	CreatedAt      time.Time                    `json:"createdAt"`
	// Infraless is set for a pod without a pause process: its containers do
	// not share a PID namespace, and join the namespaces Berth pinned. A
	// pod with shareProcessNamespace has a pause as its PID 1. Records of
	// Berth before 2026-12 do not have it: all their pods had a pause.
	Infraless bool `json:"infraless,omitempty"`
	// NetNSPath is the pinned network namespace; empty for host network.
	NetNSPath string `json:"netnsPath,omitempty"`
	// IPCNSPath and UTSNSPath pin the pod's IPC and UTS namespaces (the
	// hostname set in it); empty for a pod that shares the node's, and in
	// records of Berth before 2026-12, whose pods' pause held them.
	IPCNSPath string `json:"ipcnsPath,omitempty"`
	UTSNSPath string `json:"utsnsPath,omitempty"`
	// Dir holds the pod's hostname, hosts and resolv.conf files.
	Dir string `json:"dir"`
	// ShmPath is the pod's /dev/shm tmpfs; empty when the pod shares the
	// host's IPC namespace (and so /dev/shm).
	ShmPath string `json:"shmPath,omitempty"`
	// UserNSPath pins the pod's user namespace, which owns its other
	// namespaces, for its containers (and pause) to join; empty when the
	// pod uses the node's user namespace.
	UserNSPath string `json:"userNSPath,omitempty"`
	// MovedCgroup is the cgroup a Berth before 2026-12 moved a pooled pause
	// into when the pod took it (legacy_linux.go); removed after the pause.
	MovedCgroup string `json:"movedCgroup,omitempty"`
	// CgroupsPath is the pause's OCI cgroupsPath, in the cgroup driver's
	// form (internal/cgroup); empty in records of Berth before 2026-12,
	// which used the cgroupfs form (PauseCgroupsPath), and for an infra-less
	// pod.
	CgroupsPath string `json:"cgroupsPath,omitempty"`
}

// PauseCgroupsPath is the pause's OCI cgroupsPath; "" for an infra-less
// pod.
func (m *Metadata) PauseCgroupsPath() string {
	if m.Infraless {
		return ""
	}
	if m.CgroupsPath != "" {
		return m.CgroupsPath
	}
	p, _ := cgroup.Cgroupfs.Path(m.Config.GetLinux().GetCgroupParent(), m.ID)
	return p
}

// HostNetwork reports whether the pod uses the node's network namespace.
func (m *Metadata) HostNetwork() bool {
	return m.Config.GetLinux().GetSecurityContext().GetNamespaceOptions().GetNetwork() == runtimeapi.NamespaceMode_NODE
}

// Hostname is the pod's hostname: the one its config asks for, or the
// node's for a pod on the host's network or one that asks for none (as
// containerd does), so that the UTS namespace, /etc/hostname and $HOSTNAME
// agree.
func (m *Metadata) Hostname() string {
	if h := m.Config.GetHostname(); h != "" && !m.HostNetwork() {
		return h
	}
	h, _ := os.Hostname()
	return h
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
	// Pid of the pause process, 0 once it exited and for an infra-less
	// pod.
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
	// watch is set while a watcher waits on the pause task's exit.
	watch atomic.Pointer[pauseWatch]
	// unmounting is the last release of the sandbox's mounts, started by
	// Stop or Remove and awaited by Remove; set and read under lifecycle.
	unmounting *unmountJob
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

// TakesContainers says whether containers can be created in the sandbox:
// it is READY, and, for a pod that has one, its pause runs.
func (s *Sandbox) TakesContainers() bool {
	st := s.Status()
	return st.State == runtimeapi.PodSandboxState_SANDBOX_READY && (s.Infraless || st.Pid != 0)
}

// Set changes the status atomically, with a change that cannot fail.
func (s *Sandbox) Set(fn func(Status) Status) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status = fn(s.status)
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
type Store struct{ *idindex.Index[*Sandbox] }

// NewStore returns an empty store.
func NewStore() *Store { return &Store{idindex.New[*Sandbox]("sandbox")} }

func (s *Store) add(sb *Sandbox) { s.Add(sb.ID, sb) }

func (s *Store) delete(id string) { s.Delete(id) }
