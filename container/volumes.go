package container

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/containerd/containerd/v2/core/mount"
	"github.com/containerd/containerd/v2/core/snapshots"
	"github.com/containerd/errdefs"
	securejoin "github.com/cyphar/filepath-securejoin"
	"github.com/opencontainers/image-spec/identity"
	"google.golang.org/protobuf/proto"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/berth-cri/berth/sandbox"
)

// labelGCContainerBackRef ties a snapshot to a containerd container's life,
// so the garbage collector keeps an image volume's view while its
// container exists.
const labelGCContainerBackRef = "containerd.io/gc.bref.container"

// mountImageVolumes mounts, read-only on the host, the images that CRI
// mounts name (KEP-4639 image volumes), each from a view of the unpacked
// image. It returns the mounts to build the spec from (host paths set) and
// the mounts to record (image_ref set, as ContainerStatus reports them).
func (m *Manager) mountImageVolumes(ctx context.Context, id string, mounts []*runtimeapi.Mount) (forSpec, recorded []*runtimeapi.Mount, n int, retErr error) {
	defer func() {
		if retErr != nil {
			cctx, cancel := cleanupContext(ctx)
			defer cancel()
			if err := m.unmountImageVolumes(cctx, id, n); err != nil {
				m.log.Warn("undoing image volumes of a failed CreateContainer", "container", id, "error", err)
			}
		}
	}()
	for _, mnt := range mounts {
		if mnt.GetImage().GetImage() == "" {
			forSpec, recorded = append(forSpec, mnt), append(recorded, mnt)
			continue
		}
		if !mnt.GetReadonly() {
			return nil, nil, n, fmt.Errorf("image volume at %s must be read-only: %w", mnt.GetContainerPath(), errdefs.ErrInvalidArgument)
		}
		ids, err := imageVolumeIDMappings(mnt)
		if err != nil {
			return nil, nil, n, err
		}
		img, err := m.cfg.Images.Get(ctx, mnt.GetImage().GetImage())
		if err != nil {
			return nil, nil, n, fmt.Errorf("image volume at %s: %w", mnt.GetContainerPath(), err)
		}
		dir, idmapped, err := m.mountImage(ctx, id, n, img, sandbox.RemapSnapshotOpts(ids)...)
		n++ // counted even on failure: undo removes what was half made
		if err != nil {
			return nil, nil, n, fmt.Errorf("image volume at %s: %w", mnt.GetContainerPath(), err)
		}
		src := dir
		if sub := mnt.GetImageSubPath(); sub != "" {
			if src, err = imageSubPath(dir, sub); err != nil {
				return nil, nil, n, fmt.Errorf("image %s: %w", img.ID, err)
			}
		}
		spec := proto.Clone(mnt).(*runtimeapi.Mount)
		spec.HostPath, spec.Image, spec.ImageSubPath = src, nil, ""
		if idmapped {
			// An overlayfs mount itself cannot be idmapped, and its
			// layers are already.
			spec.UidMappings, spec.GidMappings = nil, nil
		}
		rec := proto.Clone(mnt).(*runtimeapi.Mount)
		rec.Image.ImageRef = img.ID
		forSpec, recorded = append(forSpec, spec), append(recorded, rec)
	}
	return forSpec, recorded, n, nil
}

func (m *Manager) volumeDir(id string, i int) string {
	return filepath.Join(filepath.Dir(m.fifoDir(id)), "volumes", strconv.Itoa(i))
}

func volumeKey(id string, i int) string { return id + "-volume-" + strconv.Itoa(i) }

// mountImage makes a read-only view of the image and mounts it on the
// host.
//
// With ID mapping labels in opts, a view of several layers is an overlayfs
// mount of idmapped layers (idmapped is true). A view of one layer is a
// plain read-only bind mount on the host (containerd's mount package skips
// the idmap of read-only binds): runc idmaps it into the container, from the
// CRI mount's mappings.
func (m *Manager) mountImage(ctx context.Context, id string, i int, img Image, opts ...snapshots.Opt) (dir string, idmapped bool, _ error) {
	ok, err := img.Containerd.IsUnpacked(ctx, m.cfg.Snapshotter)
	if err != nil {
		return "", false, err
	}
	if !ok {
		if err := img.Containerd.Unpack(ctx, m.cfg.Snapshotter); err != nil {
			return "", false, fmt.Errorf("unpack image %s: %w", img.ID, err)
		}
	}
	diffIDs, err := img.Containerd.RootFS(ctx)
	if err != nil {
		return "", false, err
	}
	mounts, err := m.cfg.Snapshots.View(ctx, volumeKey(id, i), identity.ChainID(diffIDs).String(),
		append(opts, snapshots.WithLabels(map[string]string{labelGCContainerBackRef: id}))...)
	if err != nil {
		return "", false, fmt.Errorf("view of image %s: %w", img.ID, err)
	}
	dir = m.volumeDir(id, i)
	if err := os.MkdirAll(dir, 0o755); err != nil { //nolint:gosec // an image volume's mount point: containers of any UID traverse it
		return "", false, err
	}
	for j := range mounts {
		if mounts[j].Type != "overlay" {
			mounts[j].Options = slices.DeleteFunc(mounts[j].Options, func(o string) bool {
				return strings.HasPrefix(o, "uidmap=") || strings.HasPrefix(o, "gidmap=")
			})
		} else if slices.ContainsFunc(mounts[j].Options, func(o string) bool { return strings.HasPrefix(o, "uidmap=") }) {
			idmapped = true
		}
		mounts[j].Options = append(mounts[j].Options, "ro")
	}
	if err := mount.All(mounts, dir); err != nil {
		return "", false, fmt.Errorf("mount image %s: %w", img.ID, err)
	}
	return dir, idmapped, nil
}

// imageVolumeIDMappings are the mappings an image volume's layers are
// idmapped with: kubelet gives a pod with a user namespace its mappings on
// every mount. The snapshotter takes one range of each, from ID 0.
func imageVolumeIDMappings(mnt *runtimeapi.Mount) (sandbox.IDMappings, error) {
	if len(mnt.GetUidMappings()) == 0 && len(mnt.GetGidMappings()) == 0 {
		return sandbox.IDMappings{}, nil
	}
	ids, err := sandbox.UserNamespace(&runtimeapi.UserNamespace{Mode: runtimeapi.NamespaceMode_POD, Uids: mnt.GetUidMappings(), Gids: mnt.GetGidMappings()})
	if err != nil {
		return sandbox.IDMappings{}, fmt.Errorf("image volume at %s: %w", mnt.GetContainerPath(), err)
	}
	return ids, nil
}

// unmountImageVolumes undoes mountImageVolumes for n volumes; what is
// already gone is fine.
func (m *Manager) unmountImageVolumes(ctx context.Context, id string, n int) error {
	var errs []error
	for i := range n {
		dir := m.volumeDir(id, i)
		if err := mount.UnmountAll(dir, 0); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, fmt.Errorf("unmount image volume %s: %w", dir, err))
			continue
		}
		if err := os.Remove(dir); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
		if err := m.cfg.Snapshots.Remove(ctx, volumeKey(id, i)); err != nil && !errdefs.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("remove image volume view: %w", err))
		}
	}
	return errors.Join(errs...)
}

// imageSubPath resolves an image volume's sub path inside the image's
// mounted root. Symlinks in the image are resolved as if root were "/"
// (securejoin), so a link to /etc names the image's /etc, never the
// node's: the bind mount's source must stay inside the image.
func imageSubPath(root, sub string) (string, error) {
	if filepath.Clean("/"+sub) == "/" || strings.Contains(sub, "..") {
		return "", fmt.Errorf("image volume sub path %q must name a path inside the image: %w", sub, errdefs.ErrInvalidArgument)
	}
	src, err := securejoin.SecureJoin(root, sub)
	if err != nil {
		return "", fmt.Errorf("image volume sub path %q: %v: %w", sub, err, errdefs.ErrInvalidArgument)
	}
	if _, err := os.Lstat(src); err != nil {
		return "", fmt.Errorf("image volume sub path %q is not in the image: %w", sub, errdefs.ErrInvalidArgument)
	}
	return src, nil
}
