package container

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/mount"
	"github.com/containerd/containerd/v2/pkg/archive"
	"github.com/containerd/errdefs"
	"google.golang.org/protobuf/proto"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/berth-cri/berth/internal/checkpoint"
)

// Restore creates a container in a ready sandbox from the checkpoint
// archive at archive: CreateContainer whose image is the archive's
// absolute path, as CRI-O reads it, and RestorePod. The archive is read,
// the request matched against it and the sandbox checked before CRIU is
// asked, so a bad request says so whatever the node can do.
//
// The container is created as CreateContainer would, from the
// checkpoint's image and with its process; the checkpoint's writable-layer
// changes are applied to the new layer and CRIU's images kept in the
// container's state directory, where Start finds them and has the shim
// restore the process instead of starting it.
func (m *Manager) Restore(ctx context.Context, sandboxID string, cfg *runtimeapi.ContainerConfig, archive string) (_ string, retErr error) {
	name := cfg.GetMetadata().GetName()
	md, rcfg, err := CheckRestore(cfg, archive)
	if err != nil {
		return "", err
	}
	sb, err := m.cfg.Sandboxes.Store().Get(sandboxID)
	if err != nil {
		return "", err
	}
	if !sb.TakesContainers() {
		return "", fmt.Errorf("sandbox %s is not ready: %w", sb.ID, errdefs.ErrFailedPrecondition)
	}
	if err := m.cfg.CRIU.Check(ctx); err != nil {
		return "", fmt.Errorf("restore container %q from %s: %w", name, archive, err)
	}

	id, err := m.Create(ctx, sandboxID, rcfg)
	if err != nil {
		return "", fmt.Errorf("restore container %q from %s: %w", name, archive, err)
	}
	defer func() {
		if retErr != nil {
			cctx, cancel := cleanupContext(ctx)
			defer cancel()
			if err := m.Remove(cctx, id); err != nil {
				m.log.Warn("removing the container of a failed restore", "container", id, "error", err)
			}
		}
	}()
	dir := m.restoreDir(id)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	if err := checkpoint.ExtractArchive(archive, dir); err != nil {
		return "", fmt.Errorf("restore container %q: %w", name, err)
	}
	layer := filepath.Join(dir, checkpoint.RootFsDiffTar)
	if err := m.applyRootfsDiff(ctx, id, layer); err != nil {
		return "", fmt.Errorf("restore container %q: %w", name, err)
	}
	if err := os.Remove(layer); err != nil && !os.IsNotExist(err) {
		return "", err
	}
	m.log.Info("prepared container restore", "container", id, "archive", archive, "checkpointOf", md.Config.ID)
	return id, nil
}

// CheckRestore reads the checkpoint archive a container is to be restored
// from and matches the request against it, without changing anything. It
// returns the checkpoint's metadata and the config the container is
// created with.
func CheckRestore(cfg *runtimeapi.ContainerConfig, archive string) (checkpoint.Metadata, *runtimeapi.ContainerConfig, error) {
	if err := validateConfig(cfg); err != nil {
		return checkpoint.Metadata{}, nil, err
	}
	if !filepath.IsAbs(archive) || filepath.Clean(archive) != archive {
		return checkpoint.Metadata{}, nil, fmt.Errorf("checkpoint archive %q is not a clean absolute path: %w", archive, errdefs.ErrInvalidArgument)
	}
	name := cfg.GetMetadata().GetName()
	md, err := checkpoint.Inspect(archive)
	if err != nil {
		return md, nil, fmt.Errorf("restore container %q: %w", name, err)
	}
	rcfg, err := restoredConfig(cfg, md)
	if err != nil {
		return md, nil, fmt.Errorf("restore container %q from %s: %w", name, archive, err)
	}
	return md, rcfg, nil
}

// restoreDir holds a restored container's unpacked checkpoint until it
// starts, on the data root: a full state tmpfs (/run) would fail every pod
// start on the node. Start and Remove remove it.
func (m *Manager) restoreDir(id string) string {
	if m.cfg.Root == "" {
		return filepath.Join(filepath.Dir(m.fifoDir(id)), "checkpoint")
	}
	return filepath.Join(m.cfg.Root, "restore", id)
}

// restoreTaskOpts has the shim restore a restored container's process
// from its CRIU images rather than start it anew; nothing for any other
// container.
func (m *Manager) restoreTaskOpts(id string) []containerd.NewTaskOpts {
	dir := m.restoreDir(id)
	if _, err := os.Stat(filepath.Join(dir, checkpoint.CheckpointDir)); err != nil {
		return nil
	}
	return []containerd.NewTaskOpts{
		containerd.WithRestoreImagePath(filepath.Join(dir, checkpoint.CheckpointDir)),
		containerd.WithRestoreWorkPath(dir),
	}
}

// restored drops a restored container's CRIU images once its process is
// back: they are as large as its memory.
func (m *Manager) restored(id string) {
	if err := os.RemoveAll(m.restoreDir(id)); err != nil {
		m.log.Warn("removing the CRIU images of a restored container", "container", id, "error", err)
	}
}

// restoredConfig is the CRI config a restored container is created with:
// the request's (labels, annotations, mounts, resources, logging,
// security), with the checkpoint's image and process. Per cri-api's
// RestorePod, a command the request states must be the checkpointed one.
func restoredConfig(cfg *runtimeapi.ContainerConfig, md checkpoint.Metadata) (*runtimeapi.ContainerConfig, error) {
	proc := md.Spec.Process
	if asked := append(slices.Clone(cfg.GetCommand()), cfg.GetArgs()...); len(cfg.GetCommand()) > 0 && !slices.Equal(asked, proc.Args) {
		return nil, fmt.Errorf("the request runs %q, the checkpoint holds %q: %w", asked, proc.Args, errdefs.ErrInvalidArgument)
	}
	if wd := cfg.GetWorkingDir(); wd != "" && wd != proc.Cwd {
		return nil, fmt.Errorf("the request's working directory is %q, the checkpoint's %q: %w", wd, proc.Cwd, errdefs.ErrInvalidArgument)
	}
	image := md.Config.RootfsImageRef
	if image == "" {
		image = md.Config.RootfsImage
	}
	if image == "" {
		image = md.Config.RootfsImageName
	}
	out := proto.Clone(cfg).(*runtimeapi.ContainerConfig)
	out.Image = &runtimeapi.ImageSpec{Image: image, UserSpecifiedImage: md.Config.RootfsImageName}
	out.Command, out.Args, out.WorkingDir = slices.Clone(proc.Args), nil, proc.Cwd
	out.Envs = nil
	for _, kv := range proc.Env {
		k, v, _ := strings.Cut(kv, "=")
		out.Envs = append(out.Envs, &runtimeapi.KeyValue{Key: k, Value: []byte(v)})
	}
	return out, nil
}

// applyRootfsDiff applies the checkpoint's writable-layer changes to the
// restored container's new layer; a checkpoint without any has none.
func (m *Manager) applyRootfsDiff(ctx context.Context, id, layer string) error {
	if _, err := os.Stat(layer); os.IsNotExist(err) {
		return nil
	}
	mounts, err := m.cfg.Snapshots.Mounts(ctx, id)
	if err != nil {
		return fmt.Errorf("writable layer: %w", err)
	}
	return mount.WithTempMount(ctx, mounts, func(root string) error {
		return applyLayer(ctx, root, layer)
	})
}

// applyLayer unpacks an OCI layer tar onto root, whiteouts deleting.
func applyLayer(ctx context.Context, root, layer string) error {
	f, err := os.Open(layer)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := archive.Apply(ctx, root, f); err != nil {
		return fmt.Errorf("apply %s: %w", checkpoint.RootFsDiffTar, err)
	}
	return nil
}
