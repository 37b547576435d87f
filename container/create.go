package container

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/containers"
	"github.com/containerd/containerd/v2/core/mount"
	"github.com/containerd/containerd/v2/core/snapshots"
	"github.com/containerd/containerd/v2/pkg/oci"
	"github.com/containerd/errdefs"
	"github.com/containerd/typeurl/v2"
	"github.com/opencontainers/image-spec/identity"
	"google.golang.org/protobuf/proto"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/berth-cri/berth/internal/checkpoint"
	"github.com/berth-cri/berth/internal/lifecycle"
	"github.com/berth-cri/berth/sandbox"
)

// Labels and extensions that make a containerd container a Berth
// container.
const (
	KindContainer      = "container"
	labelSandboxID     = "io.berth.container.sandbox-id"
	labelContainerName = "io.berth.container.name"
	extensionMetadata  = "io.berth.container.metadata"
	// The type URLs name records kept in containerd: they keep the
	// package's path before it moved out of runtime/, so that a node
	// upgraded across the move still reads its containers.
	typeURLMetadata     = "github.com/berth-cri/berth/runtime/container.Metadata"
	defaultStopSignal   = "SIGTERM"
	criSignalNamePrefix = "SIGNAL_"
)

func init() {
	typeurl.Register(&Metadata{}, typeURLMetadata)
}

// Create creates a container in a ready sandbox: a writable snapshot of
// the image, and a containerd container with the OCI spec and the
// container's Metadata. It returns the new container's ID.
func (m *Manager) Create(ctx context.Context, sandboxID string, cfg *runtimeapi.ContainerConfig) (_ string, retErr error) {
	if err := validateConfig(cfg); err != nil {
		return "", err
	}
	if checkpoint.IsArchiveRef(cfg.GetImage().GetImage()) {
		return m.Restore(ctx, sandboxID, cfg, cfg.GetImage().GetImage())
	}
	sb, err := m.cfg.Sandboxes.Store().Get(sandboxID)
	if err != nil {
		return "", err
	}
	sbStatus := sb.Status()
	if !sb.TakesContainers() {
		return "", fmt.Errorf("sandbox %s is not ready: %w", sb.ID, errdefs.ErrFailedPrecondition)
	}
	logFile, err := logPath(sb.Config.GetLogDirectory(), cfg.GetLogPath())
	if err != nil {
		return "", err
	}
	img, err := m.cfg.Images.Get(ctx, cfg.GetImage().GetImage())
	if err != nil {
		return "", fmt.Errorf("image %q of container %q: %w", cfg.GetImage().GetImage(), cfg.GetMetadata().GetName(), err)
	}
	runtimeOpt, err := m.cfg.Sandboxes.RuntimeOpts(sb)
	if err != nil {
		return "", err
	}
	ids, err := userNamespace(sb, cfg)
	if err != nil {
		return "", err
	}

	id := newID()
	name := makeName(cfg.GetMetadata(), sb.Config.GetMetadata())
	if err := m.names.reserve(name, id); err != nil {
		return "", err
	}
	defer func() {
		if retErr != nil {
			m.names.release(name, id)
		}
	}()

	// The sandbox's lease keeps containerd's garbage collector off the
	// new snapshot until the container that references it exists.
	ctx = sandbox.LeaseContext(ctx, sb.ID)
	rootfs, err := m.prepareSnapshot(ctx, id, img, sandbox.RemapSnapshotOpts(ids)...)
	if errdefs.IsNotFound(err) {
		// The lease may be what is missing (deleted by hand): recreate it
		// and try once more.
		if lerr := m.cfg.Snapshots.EnsureLease(ctx, sb.ID); lerr == nil {
			rootfs, err = m.prepareSnapshot(ctx, id, img, sandbox.RemapSnapshotOpts(ids)...)
		}
	}
	if err != nil {
		return "", err
	}
	defer func() {
		if retErr != nil {
			cctx, cancel := cleanupContext(ctx)
			defer cancel()
			if err := m.cfg.Snapshots.Remove(cctx, id); err != nil && !errdefs.IsNotFound(err) {
				m.log.Warn("removing the snapshot of a failed CreateContainer", "container", id, "error", err)
			}
		}
	}()

	specMounts, recorded, volumes, err := m.mountImageVolumes(ctx, id, cfg.GetMounts())
	if err != nil {
		return "", err
	}
	defer func() {
		if retErr != nil {
			cctx, cancel := cleanupContext(ctx)
			defer cancel()
			if err := m.unmountImageVolumes(cctx, id, volumes); err != nil {
				m.log.Warn("removing the image volumes of a failed CreateContainer", "container", id, "error", err)
			} else if err := removeStateDir(m.fifoDir(id)); err != nil {
				m.log.Warn("removing the state of a failed CreateContainer", "container", id, "error", err)
			}
		}
	}()
	specCfg := cfg
	if volumes > 0 {
		specCfg = proto.Clone(cfg).(*runtimeapi.ContainerConfig)
		specCfg.Mounts = specMounts
		cfg = proto.Clone(cfg).(*runtimeapi.ContainerConfig)
		cfg.Mounts = recorded
	}

	cgroupsPath, err := m.cfg.CgroupDriver.Path(sb.Config.GetLinux().GetCgroupParent(), id)
	if err != nil {
		return "", err
	}
	params := specParams{
		ID: id, Config: specCfg, Sandbox: sb, SandboxPid: sbStatus.Pid, IDs: ids,
		Image: img.Config, ImageName: cfg.GetImage().GetImage(),
		CgroupsPath:    cgroupsPath,
		MinOOMScoreAdj: m.cfg.MinOOMScoreAdj, Host: m.cfg.Node, Security: m.cfg.Security,
	}
	if ns := cfg.GetLinux().GetSecurityContext().GetNamespaceOptions(); ns.GetPid() == runtimeapi.NamespaceMode_TARGET {
		target, err := m.store.Get(ns.GetTargetId())
		if err != nil {
			return "", fmt.Errorf("PID namespace target: %w", err)
		}
		params.TargetPid = target.Status().Pid
	}
	opts, err := specOpts(params)
	if err != nil {
		return "", err
	}
	spec, err := oci.GenerateSpec(ctx, snapshotsClient{s: m.cfg.Snapshots, key: id, mounts: rootfs}, &containers.Container{ID: id, Snapshotter: m.cfg.Snapshotter, SnapshotKey: id}, opts...)
	if err != nil {
		return "", fmt.Errorf("build OCI spec: %w", err)
	}

	md := Metadata{
		ID: id, Name: name, SandboxID: sb.ID, Config: cfg,
		ImageRef: img.Ref(), ImageID: img.ID, ImageName: userImage(cfg, img),
		CreatedAt:    time.Now(),
		User:         User{UID: spec.Process.User.UID, GID: spec.Process.User.GID, SupplementalGroups: spec.Process.User.AdditionalGids},
		StopSignal:   stopSignal(cfg, img.Config.StopSignal),
		CgroupsPath:  params.CgroupsPath,
		ImageVolumes: volumes,
	}
	md.LogPath = logFile
	if logFile != "" {
		md.LogDir = sb.Config.GetLogDirectory()
	}
	labels := map[string]string{sandbox.LabelKind: KindContainer, labelSandboxID: sb.ID, labelContainerName: name}
	for k, v := range cfg.GetLabels() {
		if _, ours := labels[k]; !ours {
			labels[k] = v
		}
	}
	ctr := newContainer(md, Status{
		State:     runtimeapi.ContainerState_CONTAINER_CREATED,
		Resources: cfg.GetLinux().GetResources(),
	})
	ctr.rootfs.Store(&rootfs)
	if m.cfg.NRI != nil {
		// Until the container is in the store, a plugin that connects
		// would neither be told of it nor find it listed.
		unblock := m.cfg.NRI.BlockSync()
		defer unblock()
		if err := m.cfg.NRI.CreateContainer(ctx, ctr, spec); err != nil {
			return "", fmt.Errorf("NRI plugin refused container %q: %w", cfg.GetMetadata().GetName(), err)
		}
		defer func() {
			if retErr != nil {
				cctx, cancel := cleanupContext(ctx)
				defer cancel()
				m.cfg.NRI.UndoCreateContainer(cctx, ctr)
			}
		}()
	}
	if err := m.cfg.Records.Create(ctx, id,
		withSnapshot(m.cfg.Snapshotter, id),
		withImageName(img),
		withPodShim(sb, !m.cfg.NoSandboxShims),
		containerd.WithSpec(spec),
		runtimeOpt, // after the spec, which the handler may label
		containerd.WithContainerLabels(labels),
		containerd.WithContainerExtension(extensionMetadata, &md),
	); err != nil {
		// containerd may have made it all the same, its answer lost to
		// the request's deadline: a record left would come back as a
		// container at the next restart, its snapshot gone.
		m.deleteRecord(ctx, id)
		return "", fmt.Errorf("create container: %w", err)
	}
	m.store.add(ctr)
	if m.cfg.NRI != nil {
		m.cfg.NRI.PostCreateContainer(ctx, ctr)
	}
	m.publish(lifecycle.Created, ctr)
	return id, nil
}

// prepareSnapshot makes the container's writable layer on top of the
// unpacked image, with the snapshot options (the pod's ID mappings) given,
// and returns its mounts.
func (m *Manager) prepareSnapshot(ctx context.Context, id string, img Image, opts ...snapshots.Opt) ([]mount.Mount, error) {
	// The index knows the unpacked layers' chain ID: try it first, which
	// saves reading the manifest and config from the content store twice.
	if img.ChainID != "" {
		mounts, err := m.cfg.Snapshots.Prepare(ctx, id, img.ChainID, opts...)
		if err == nil {
			return mounts, nil
		}
		if !errdefs.IsNotFound(err) {
			return nil, fmt.Errorf("prepare rootfs snapshot: %w", err)
		}
		// Not unpacked (yet): unpack, then prepare as below.
	}
	ok, err := img.Containerd.IsUnpacked(ctx, m.cfg.Snapshotter)
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", img.ID, err)
	}
	if !ok {
		if err := img.Containerd.Unpack(ctx, m.cfg.Snapshotter); err != nil {
			return nil, fmt.Errorf("unpack image %s: %w", img.ID, err)
		}
	}
	diffIDs, err := img.Containerd.RootFS(ctx)
	if err != nil {
		return nil, fmt.Errorf("image %s layers: %w", img.ID, err)
	}
	mounts, err := m.cfg.Snapshots.Prepare(ctx, id, identity.ChainID(diffIDs).String(), opts...)
	if err != nil {
		return nil, fmt.Errorf("prepare rootfs snapshot: %w", err)
	}
	return mounts, nil
}

func withSnapshot(snapshotter, key string) containerd.NewContainerOpts {
	return func(ctx context.Context, client *containerd.Client, c *containers.Container) error {
		c.Snapshotter, c.SnapshotKey = snapshotter, key
		return nil
	}
}

func withImageName(img Image) containerd.NewContainerOpts {
	return func(ctx context.Context, client *containerd.Client, c *containers.Container) error {
		c.Image = img.Containerd.Name()
		return nil
	}
}

// logPath is the container's CRI log file: log_path relative to the pod's
// log_directory, and inside it. berthd writes the file as root, so a path
// that climbed out would let a request append container output to any file
// on the node. No log is kept when either is empty.
func logPath(dir, rel string) (string, error) {
	if dir == "" || rel == "" {
		return "", nil
	}
	if !filepath.IsAbs(dir) {
		return "", fmt.Errorf("sandbox log_directory %q must be an absolute path: %w", dir, errdefs.ErrInvalidArgument)
	}
	if !filepath.IsLocal(rel) {
		return "", fmt.Errorf("log_path %q must be a relative path inside the sandbox's log directory: %w", rel, errdefs.ErrInvalidArgument)
	}
	return filepath.Join(dir, rel), nil
}

func validateConfig(cfg *runtimeapi.ContainerConfig) error {
	switch {
	case cfg == nil:
		return fmt.Errorf("container config is required: %w", errdefs.ErrInvalidArgument)
	case cfg.GetMetadata().GetName() == "":
		return fmt.Errorf("container config needs metadata with a name: %w", errdefs.ErrInvalidArgument)
	case cfg.GetImage().GetImage() == "":
		return fmt.Errorf("container config needs an image: %w", errdefs.ErrInvalidArgument)
	}
	if err := validName(cfg.GetMetadata().GetName()); err != nil {
		return err
	}
	if sc := cfg.GetLinux().GetSecurityContext(); sc.GetRunAsGroup() != nil && sc.GetRunAsUser() == nil && sc.GetRunAsUsername() == "" {
		// The group alone would silently pair with the image's user.
		return fmt.Errorf("run_as_group is set without run_as_user or run_as_username: %w", errdefs.ErrInvalidArgument)
	}
	return nil
}

// validName refuses a container name that is not one plain path element:
// CheckpointPod names files after it (kubelet's names are DNS labels).
func validName(name string) error {
	if strings.ContainsAny(name, "/\x00") || strings.Contains(name, "..") || name == "." {
		return fmt.Errorf("container name %q has a '/', NUL or '..', or is '.': %w", name, errdefs.ErrInvalidArgument)
	}
	return nil
}

// makeName is the registrar key: one container per name and attempt in a
// pod.
func makeName(c *runtimeapi.ContainerMetadata, s *runtimeapi.PodSandboxMetadata) string {
	return strings.Join([]string{c.GetName(), s.GetName(), s.GetNamespace(), s.GetUid(), strconv.FormatUint(uint64(c.GetAttempt()), 10)}, "_")
}

// userImage is the image name to show: what the user wrote in the pod
// spec, else the reference kubelet passed, else a tag of the image.
func userImage(cfg *runtimeapi.ContainerConfig, img Image) string {
	if u := cfg.GetImage().GetUserSpecifiedImage(); u != "" {
		return u
	}
	if ref := cfg.GetImage().GetImage(); !strings.HasPrefix(ref, "sha256:") {
		return ref
	}
	if len(img.RepoTags) > 0 {
		return img.RepoTags[0]
	}
	return cfg.GetImage().GetImage()
}

// stopSignal is the CRI config's stop signal, else the image's, else
// SIGTERM.
func stopSignal(cfg *runtimeapi.ContainerConfig, imageSignal string) string {
	if s := cfg.GetStopSignal(); s != runtimeapi.Signal_SIGNAL_RUNTIME_DEFAULT {
		return strings.TrimPrefix(s.String(), criSignalNamePrefix)
	}
	if imageSignal != "" {
		return imageSignal
	}
	return defaultStopSignal
}

func newID() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand never fails on Linux
	}
	return hex.EncodeToString(b[:])
}

// withPodShim puts the container's task into its pod's shim. A pod with a
// pause has a containerd sandbox record, which containerd follows to the
// pause's shim without running the shim binary (sandbox/record.go), when
// byRecord. Otherwise, and in an infra-less pod, which has no task of its
// own to find a shim by, the runc shim groups the pod's containers by
// their io.kubernetes.cri.sandbox-id annotation: the pause's shim, or the
// first container's, is the one the others join.
func withPodShim(sb *sandbox.Sandbox, byRecord bool) containerd.NewContainerOpts {
	if sb.Infraless || !byRecord {
		return func(context.Context, *containerd.Client, *containers.Container) error { return nil }
	}
	return containerd.WithSandbox(sb.ID)
}
