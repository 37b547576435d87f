package container

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/containerd/containerd/v2/core/mount"
	"github.com/containerd/errdefs"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/berth-cri/berth/internal/idindex"
	"github.com/berth-cri/berth/internal/procsig"
)

// Metadata is what a container is made with. Create sets it before the
// container is stored and records it in containerd; nothing changes it
// after, so it is read without a lock. What changes, its resources
// included, is in Status.
type Metadata struct {
	ID string `json:"id"`
	// Name is the registrar key:
	// name_sandboxName_sandboxNamespace_sandboxUID_attempt.
	Name      string                      `json:"name"`
	SandboxID string                      `json:"sandboxID"`
	Config    *runtimeapi.ContainerConfig `json:"config"`
	// ImageRef is the image's repo digest (repo@sha256:...), or its ID when
	// it has none; ImageID is the image config digest.
	ImageRef string `json:"imageRef"`
	ImageID  string `json:"imageID"`
	// ImageName is what the user asked for (the tag kubelet shows).
	ImageName string `json:"imageName"`
	// LogPath is the absolute path of the CRI log file; empty when the
	// sandbox or the container gave none (output is discarded).
	LogPath string `json:"logPath,omitempty"`
	// LogDir is the sandbox's log_directory, below which LogPath is
	// opened (see beneath); empty in records from before it was kept, where
	// LogPath's own directory stands in.
	LogDir    string    `json:"logDir,omitempty"`
	CreatedAt time.Time `json:"createdAt"`
	// User is the user the process runs as, resolved against the image's
	// /etc/passwd and /etc/group at create time.
	User User `json:"user"`
	// StopSignal is the signal Stop sends first (from the CRI config or
	// the image), as a name like SIGTERM.
	StopSignal string `json:"stopSignal,omitempty"`
	// CgroupsPath is the container's cgroup below each hierarchy's root.
	CgroupsPath string `json:"cgroupsPath"`
	// ImageVolumes is how many image volumes are mounted for it on the host.
	ImageVolumes int `json:"imageVolumes,omitempty"`
}

// User is the resolved identity of a container's process.
type User struct {
	UID                uint32   `json:"uid"`
	GID                uint32   `json:"gid"`
	SupplementalGroups []uint32 `json:"supplementalGroups,omitempty"`
}

// State is a container's place in its life:
//
//	Create ok          Start ok             process exits / Stop
//	---------> CREATED ---------> RUNNING ------------------------> EXITED --Remove--> (gone)
//	              |                                                   ^
//	              +------------- Start failed ------------------------+
//
// UNKNOWN is a container whose task could not be inspected; Stop and
// Remove still work on it. A container never runs twice: kubelet creates a
// new attempt.
type State = runtimeapi.ContainerState

// Reasons for an exit, as kubelet shows them.
const (
	ReasonCompleted  = "Completed"
	ReasonError      = "Error"
	ReasonOOMKilled  = "OOMKilled"
	ReasonStartError = "StartError"
)

// Status changes over a container's life, only through Update.
type Status struct {
	State State
	Pid   uint32
	// Proc is the running process with its start time, which Stop
	// signals directly; the zero Process when berthd found it running at
	// start, and Stop goes through runc's kill.
	Proc       procsig.Process
	StartedAt  time.Time
	FinishedAt time.Time
	ExitCode   int32
	Reason     string
	Message    string
	// Resources are the container's current resources: the CRI config's,
	// then those of the last UpdateContainerResources.
	Resources *runtimeapi.LinuxContainerResources
	// Starting and Removing keep Start and Remove from running at once.
	Starting, Removing bool
}

// Container is one container: immutable Metadata and a Status changed only
// through Update.
type Container struct {
	Metadata

	mu     sync.Mutex
	status Status

	// exited is closed once the process exited and the exit was recorded
	// (or the container never started and never will).
	exited   chan struct{}
	exitOnce sync.Once
	// taskDeleted says that the exit's recording deleted the task, so
	// Remove need not look for one.
	taskDeleted atomic.Bool
	// oomSeen says a shim reported an OOM kill in the container's cgroup
	// (WatchOOM).
	oomSeen atomic.Bool
	// parentOOM is the pod cgroup's OOM kill count before the container
	// started, plus one (0: unknown); killSent says Berth sent SIGKILL.
	// oomAtExit reads both.
	parentOOM atomic.Uint64
	killSent  atomic.Bool
	// logs is the running container's log file; nil before Start, after
	// exit, or when there is no log path.
	logs *logFile
	// attach is the running container's IO for Attach; nil before Start.
	attach *attachIO
	// exec is what an exec in the running container starts from (ExecBase),
	// read from containerd at the first exec; nil until then.
	exec atomic.Pointer[execBase]
	// rootfs is the writable layer's mounts as Create's Prepare returned
	// them, for Start to create the task on without asking containerd
	// again; nil after Start takes them, and in a recovered container.
	rootfs atomic.Pointer[[]mount.Mount]
}

func newContainer(md Metadata, st Status) *Container {
	return &Container{Metadata: md, status: st, exited: make(chan struct{})}
}

// setOOMBaseline records the pod cgroup's OOM kill count before start.
func (c *Container) setOOMBaseline(n uint64, ok bool) {
	if ok {
		c.parentOOM.Store(n + 1)
	}
}

func (c *Container) oomBaseline() (uint64, bool) {
	n := c.parentOOM.Load()
	return n - 1, n > 0
}

// Status returns a copy of the current status.
func (c *Container) Status() Status {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.status
}

// Set changes the status atomically, with a change that cannot fail.
func (c *Container) Set(fn func(Status) Status) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.status = fn(c.status)
}

// Update changes the status atomically; an error leaves it unchanged.
func (c *Container) Update(fn func(Status) (Status, error)) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	next, err := fn(c.status)
	if err != nil {
		return err
	}
	c.status = next
	return nil
}

// Exited is closed once the container's process has exited and its exit
// is recorded in Status.
func (c *Container) Exited() <-chan struct{} { return c.exited }

func (c *Container) markExited() { c.exitOnce.Do(func() { close(c.exited) }) }

func (c *Container) setLogs(l *logFile) {
	c.mu.Lock()
	c.logs = l
	c.mu.Unlock()
}

func (c *Container) setAttachIO(a *attachIO) {
	c.mu.Lock()
	c.attach = a
	c.mu.Unlock()
}

func (c *Container) attachIO() *attachIO {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.attach
}

func (c *Container) logFile() *logFile {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.logs
}

// Store indexes containers by ID, for List and Status from memory.
type Store struct{ *idindex.Index[*Container] }

// NewStore returns an empty store.
func NewStore() *Store { return &Store{idindex.New[*Container]("container")} }

func (s *Store) add(c *Container) { s.Add(c.ID, c) }

func (s *Store) delete(id string) { s.Delete(id) }

// ListSandbox returns the containers of one sandbox.
func (s *Store) ListSandbox(sandboxID string) []*Container {
	var out []*Container
	for _, c := range s.List() {
		if c.SandboxID == sandboxID {
			out = append(out, c)
		}
	}
	return out
}

// registrar maps container names to IDs, so a sandbox never has two
// containers of the same name and attempt.
type registrar struct {
	mu    sync.Mutex
	names map[string]string
}

func newRegistrar() *registrar { return &registrar{names: map[string]string{}} }

// reserve takes name for id; AlreadyExists names the holder.
func (r *registrar) reserve(name, id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if held, ok := r.names[name]; ok && held != id {
		return fmt.Errorf("container name %q is reserved for %s: %w", name, held, errdefs.ErrAlreadyExists)
	}
	r.names[name] = id
	return nil
}

// release frees name if id holds it.
func (r *registrar) release(name, id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.names[name] == id {
		delete(r.names, name)
	}
}
