package container

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	metadata "github.com/checkpoint-restore/checkpointctl/lib"
	"github.com/containerd/containerd/api/types/runc/options"
	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/containers"
	"github.com/containerd/containerd/v2/core/content"
	"github.com/containerd/containerd/v2/core/diff"
	"github.com/containerd/containerd/v2/pkg/rootfs"
	"github.com/containerd/errdefs"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/berth-cri/berth/internal/beneath"
	"github.com/berth-cri/berth/internal/checkpoint"
	"github.com/berth-cri/berth/internal/handlers"
	"github.com/berth-cri/berth/sandbox"
)

// DefaultCheckpointTimeout is CRI's "default" for a zero timeout: CRIU
// writes the whole memory of the container, which can take minutes.
const DefaultCheckpointTimeout = 5 * time.Minute

// CRIU says whether CRIU can checkpoint and restore on this node:
// checkpoint.Checker, or a fake in tests.
type CRIU interface {
	Check(ctx context.Context) error
}

// CheckpointOptions is one CheckpointContainer.
type CheckpointOptions struct {
	// Location is the archive to write: an absolute file path.
	Location string
	// Timeout bounds the whole checkpoint; 0 is DefaultCheckpointTimeout.
	Timeout time.Duration
	// Status gives the CRI status recorded as status.dump; nil: none.
	Status func(*Container) ([]byte, error)
}

// Checkpoint writes a checkpoint archive of a running container to
// opts.Location; the container keeps running. Everything CRIU needs is
// checked before anything is touched: bad requests are InvalidArgument,
// a container that is not running FailedPrecondition, and so is a node
// where CRIU cannot work (see docs/checkpoint.md). A failed checkpoint
// leaves nothing at the location.
func (m *Manager) Checkpoint(ctx context.Context, id string, opts CheckpointOptions) error {
	c, err := m.checkpointable(ctx, id, opts)
	if err != nil {
		return err
	}
	timeout := opts.Timeout
	if timeout == 0 {
		timeout = DefaultCheckpointTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	// The checkpoint is gathered beside its archive, on the filesystem the
	// caller chose for it: CRIU's images are as large as the container's
	// memory, too large for berthd's tmpfs state.
	dir, err := os.MkdirTemp(filepath.Dir(opts.Location), "."+filepath.Base(opts.Location)+".dump-")
	if err != nil {
		return fmt.Errorf("checkpoint container %s: %w", c.ID, err)
	}
	defer os.RemoveAll(dir)
	if err := m.dumpPaused(ctx, []*Container{c}, func(ctx context.Context) error {
		return m.dump(ctx, c, dir, opts.Status)
	}); err != nil {
		return fmt.Errorf("checkpoint container %s: %w", c.ID, err)
	}
	if err := checkpoint.WriteArchive(dir, opts.Location); err != nil {
		return fmt.Errorf("checkpoint container %s: %w", c.ID, err)
	}
	m.log.Info("checkpointed container", "container", c.ID, "location", opts.Location)
	return nil
}

// checkpointable validates a checkpoint request, cheapest check first.
func (m *Manager) checkpointable(ctx context.Context, id string, opts CheckpointOptions) (*Container, error) {
	if opts.Timeout < 0 {
		return nil, fmt.Errorf("checkpoint timeout %s is negative: %w", opts.Timeout, errdefs.ErrInvalidArgument)
	}
	if err := checkpoint.ValidateLocation(opts.Location); err != nil {
		return nil, err
	}
	c, err := m.store.Get(id)
	if err != nil {
		return nil, err
	}
	if st := c.Status(); st.State != runtimeapi.ContainerState_CONTAINER_RUNNING {
		return nil, fmt.Errorf("container %s is %s, only a running container can be checkpointed: %w", c.ID, stateName(st), errdefs.ErrFailedPrecondition)
	}
	if sb, err := m.cfg.Sandboxes.Store().Get(c.SandboxID); err == nil {
		if err := m.checkpointHandler(sb); err != nil {
			return nil, err
		}
	}
	if err := m.cfg.CRIU.Check(ctx); err != nil {
		return nil, fmt.Errorf("checkpoint container %s: %w", c.ID, err)
	}
	return c, nil
}

// checkpointHandler refuses a pod whose runtime is not run by runc's shim:
// checkpoints go through that shim's options (withCheckpointWorkPath).
func (m *Manager) checkpointHandler(sb *sandbox.Sandbox) error {
	h, err := m.cfg.Sandboxes.Handler(sb)
	if err != nil {
		return err
	}
	if h.RuncOptions() == nil {
		return fmt.Errorf("pod %s runs under runtime handler %q (%s): checkpoints need %s: %w", sb.ID, h.Name, h.Type, handlers.RuncShim, errdefs.ErrFailedPrecondition)
	}
	return nil
}

// dumpPaused pauses every container, runs fn, and resumes them all
// whatever happened, even past the request's deadline: CRIU's dump and the
// copy of the writable layers see one consistent cut, and a checkpoint
// never leaves a container frozen.
func (m *Manager) dumpPaused(ctx context.Context, cs []*Container, fn func(context.Context) error) (retErr error) {
	var paused []containerd.Task
	defer func() {
		cctx, cancel := cleanupContext(ctx)
		defer cancel()
		for _, task := range paused {
			if err := task.Resume(cctx); err != nil && !errdefs.IsNotFound(err) {
				m.log.Error("resuming a checkpointed container", "container", task.ID(), "error", err)
				if retErr == nil {
					retErr = fmt.Errorf("resume %s: %w", task.ID(), err)
				}
			}
		}
	}()
	for _, c := range cs {
		cont, err := m.cfg.Client.LoadContainer(ctx, c.ID)
		if err != nil {
			return fmt.Errorf("load container %s: %w", c.ID, err)
		}
		task, err := cont.Task(ctx, nil)
		if err != nil {
			return fmt.Errorf("load task of %s: %w", c.ID, err)
		}
		if err := task.Pause(ctx); err != nil {
			return fmt.Errorf("pause %s: %w", c.ID, err)
		}
		paused = append(paused, task)
	}
	return fn(ctx)
}

// dump fills dir with a paused container's checkpoint: CRIU's images
// through the runc shim, the writable layer's changes, and the metadata.
func (m *Manager) dump(ctx context.Context, c *Container, dir string, status func(*Container) ([]byte, error)) error {
	cont, err := m.cfg.Client.LoadContainer(ctx, c.ID)
	if err != nil {
		return fmt.Errorf("load container: %w", err)
	}
	info, err := cont.Info(ctx)
	if err != nil {
		return fmt.Errorf("container info: %w", err)
	}
	spec, err := cont.Spec(ctx)
	if err != nil {
		return fmt.Errorf("container spec: %w", err)
	}
	task, err := cont.Task(ctx, nil)
	if err != nil {
		return fmt.Errorf("load task: %w", err)
	}

	// With an image path the shim has runc write CRIU's images straight
	// into checkpoint/ instead of into containerd's content store, and
	// dump.log lands in the work path.
	if _, err := task.Checkpoint(ctx,
		containerd.WithCheckpointImagePath(filepath.Join(dir, checkpoint.CheckpointDir)),
		withCheckpointWorkPath(filepath.Join(dir, "work"))); err != nil {
		return fmt.Errorf("CRIU dump: %w", err)
	}
	if err := m.writeRootfsDiff(ctx, info, dir); err != nil {
		return err
	}

	md := checkpoint.Metadata{
		Config: metadata.ContainerConfig{
			ID:              c.ID,
			Name:            c.Config.GetMetadata().GetName(),
			RootfsImage:     c.ImageID,
			RootfsImageRef:  c.ImageRef,
			RootfsImageName: c.ImageName,
			OCIRuntime:      info.Runtime.Name,
			CreatedTime:     c.CreatedAt,
			CheckpointedAt:  time.Now(),
		},
		Spec: spec,
	}
	if status != nil {
		if md.Status, err = status(c); err != nil {
			return fmt.Errorf("container status: %w", err)
		}
	}
	if err := checkpoint.WriteMetadata(dir, md); err != nil {
		return err
	}
	if err := copyLog(&c.Metadata, filepath.Join(dir, checkpoint.ContainerLogFile)); err != nil {
		return err
	}
	// dump.log stays for whoever reads the archive; the rest of the work
	// directory is CRIU's scratch space.
	if err := os.Rename(filepath.Join(dir, "work", metadata.DumpLogFile), filepath.Join(dir, metadata.DumpLogFile)); err != nil && !os.IsNotExist(err) {
		return err
	}
	return os.RemoveAll(filepath.Join(dir, "work"))
}

// withCheckpointWorkPath sets CRIU's work directory and keeps the task
// running: Kubernetes' checkpoints (the Forensic Container Checkpointing
// KEP) never stop the container.
func withCheckpointWorkPath(path string) containerd.CheckpointTaskOpts {
	return func(r *containerd.CheckpointTaskInfo) error {
		if r.Options == nil {
			r.Options = &options.CheckpointOptions{}
		}
		opts, ok := r.Options.(*options.CheckpointOptions)
		if !ok {
			return fmt.Errorf("checkpoint options are %T, not runc's", r.Options)
		}
		opts.Exit = false
		opts.WorkPath = path
		return nil
	}
}

// writeRootfsDiff writes the writable layer's changes as rootfs-diff.tar
// (an uncompressed OCI layer, deletions as whiteouts) and lists the
// deletions in deleted.files.
func (m *Manager) writeRootfsDiff(ctx context.Context, info containers.Container, dir string) error {
	// The diff goes through the content store; the lease keeps it there
	// until it is copied out, and lets it go afterwards.
	ctx, done, err := m.cfg.Client.WithLease(ctx)
	if err != nil {
		return fmt.Errorf("lease: %w", err)
	}
	defer func() {
		cctx, cancel := cleanupContext(ctx)
		defer cancel()
		if err := done(cctx); err != nil {
			m.log.Warn("releasing a checkpoint's lease; containerd's garbage collector expires it", "container", info.ID, "error", err)
		}
	}()
	desc, err := rootfs.CreateDiff(ctx, info.SnapshotKey,
		m.cfg.Client.SnapshotService(info.Snapshotter), m.cfg.Client.DiffService(),
		diff.WithMediaType(ocispec.MediaTypeImageLayer),
		diff.WithReference(fmt.Sprintf("checkpoint-rw-%s-%d", info.ID, time.Now().UnixNano())))
	if err != nil {
		return fmt.Errorf("writable layer diff: %w", err)
	}
	ra, err := m.cfg.Client.ContentStore().ReaderAt(ctx, desc)
	if err != nil {
		return fmt.Errorf("writable layer diff: %w", err)
	}
	defer ra.Close()
	path := filepath.Join(dir, checkpoint.RootFsDiffTar)
	if err := writeFile(path, content.NewReader(ra)); err != nil {
		return fmt.Errorf("writable layer diff: %w", err)
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	deleted, err := checkpoint.DeletedFiles(f)
	if err != nil {
		return fmt.Errorf("writable layer diff: %w", err)
	}
	if len(deleted) > 0 {
		if _, err := metadata.WriteJSONFile(deleted, dir, checkpoint.DeletedFilesFile); err != nil {
			return err
		}
	}
	return nil
}

// copyLog copies the container's CRI log, when it has one, into the
// checkpoint, as CRI-O and containerd keep it. It is opened with no symlink
// below the log directory: a planted one must not put a host file into the
// archive.
func copyLog(md *Metadata, dst string) error {
	if md.LogPath == "" {
		return nil
	}
	f, err := beneath.Open(md.logDir(), md.logRel())
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("container log: %w", err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return nil
	}
	return writeFile(dst, f)
}

func writeFile(path string, r io.Reader) error {
	out, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, r); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
