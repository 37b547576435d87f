package container

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"

	metadata "github.com/checkpoint-restore/checkpointctl/lib"
	"github.com/containerd/errdefs"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/berth-cri/berth/internal/checkpoint"
)

// A pod checkpoint is a directory: pod.options (checkpointctl's
// CheckpointedPodOptions, naming each container's archive), pod.dump (the
// sandbox's CRI config) and containers/<name>.tar, one container archive
// each, which CreateContainer restores from like any other.
const (
	podCheckpointVersion = 1
	podContainersDir     = "containers"
)

// PodCheckpointOptions is one CheckpointPod.
type PodCheckpointOptions struct {
	SandboxID string
	// OutputPath is the caller's existing, empty directory.
	OutputPath   string
	ContainerIDs []string
	// Options are runtime-specific; Berth knows none, so any is refused.
	Options map[string]string
	// Status gives each container's CRI status for its status.dump.
	Status func(*Container) ([]byte, error)
}

// CheckpointPod checkpoints the selected running containers of a ready
// sandbox into opts.OutputPath, per cri-api v0.37: every container is
// paused before any is captured and all are resumed before it returns, and
// a failure leaves the directory as empty as it was given. The caller must
// set a deadline.
func (m *Manager) CheckpointPod(ctx context.Context, opts PodCheckpointOptions) (retErr error) {
	cs, err := m.podCheckpointable(ctx, opts)
	if err != nil {
		return err
	}
	// Every file is made through an os.Root on the output directory: the
	// paths below it are built from container names a CRI client chose.
	out, err := os.OpenRoot(opts.OutputPath)
	if err != nil {
		return fmt.Errorf("output path %q: %w", opts.OutputPath, err)
	}
	defer out.Close()
	defer func() {
		if retErr != nil {
			clearDir(opts.OutputPath)
		}
	}()
	work, err := os.MkdirTemp(opts.OutputPath, ".dump-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	workRel := filepath.Base(work)

	pod := metadata.CheckpointedPodOptions{Version: podCheckpointVersion, Containers: map[string]string{}}
	err = m.dumpPaused(ctx, cs, func(ctx context.Context) error {
		for _, c := range cs {
			name := c.Config.GetMetadata().GetName()
			if err := out.Mkdir(filepath.Join(workRel, name), 0o700); err != nil {
				return err
			}
			if err := m.dump(ctx, c, filepath.Join(work, name), opts.Status); err != nil {
				return fmt.Errorf("container %s (%s): %w", c.ID, name, err)
			}
			pod.Containers[name] = filepath.Join(podContainersDir, name+".tar")
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("checkpoint pod %s: %w", opts.SandboxID, err)
	}
	if err := out.Mkdir(podContainersDir, 0o700); err != nil {
		return err
	}
	for name, archive := range pod.Containers {
		if err := checkpoint.WriteArchiveIn(out, archive, filepath.Join(work, name)); err != nil {
			return fmt.Errorf("checkpoint pod %s: %w", opts.SandboxID, err)
		}
	}
	sb, err := m.cfg.Sandboxes.Store().Get(opts.SandboxID)
	if err != nil {
		return err
	}
	if err := writeJSONIn(out, metadata.PodDumpFile, sb.Config); err != nil {
		return err
	}
	if err := writeJSONIn(out, metadata.PodOptionsFile, pod); err != nil {
		return err
	}
	m.log.Info("checkpointed pod", "sandbox", opts.SandboxID, "containers", len(cs), "output", opts.OutputPath)
	return nil
}

// writeJSONIn writes v as checkpointctl's WriteJSONFile does, below root.
func writeJSONIn(root *os.Root, name string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return root.WriteFile(name, b, 0o600)
}

// podCheckpointable validates a CheckpointPod request as the proto
// requires, cheapest check first, and CRIU last.
func (m *Manager) podCheckpointable(ctx context.Context, opts PodCheckpointOptions) ([]*Container, error) {
	if _, ok := ctx.Deadline(); !ok {
		return nil, fmt.Errorf("CheckpointPod needs a deadline on the call: %w", errdefs.ErrInvalidArgument)
	}
	if err := RefuseOptions(opts.Options); err != nil {
		return nil, err
	}
	if err := requireEmptyDir(opts.OutputPath); err != nil {
		return nil, err
	}
	if len(opts.ContainerIDs) == 0 {
		return nil, fmt.Errorf("CheckpointPod needs at least one container ID: %w", errdefs.ErrInvalidArgument)
	}
	sb, err := m.cfg.Sandboxes.Store().Get(opts.SandboxID)
	if err != nil {
		return nil, err
	}
	if st := sb.Status(); st.State != runtimeapi.PodSandboxState_SANDBOX_READY {
		return nil, fmt.Errorf("sandbox %s is not ready: %w", sb.ID, errdefs.ErrFailedPrecondition)
	}
	if err := m.checkpointHandler(sb); err != nil {
		return nil, err
	}
	var cs []*Container
	seen := map[string]bool{}
	for _, id := range opts.ContainerIDs {
		c, err := m.store.Get(id)
		if err != nil {
			return nil, err
		}
		if seen[c.ID] {
			return nil, fmt.Errorf("container %s is listed twice: %w", c.ID, errdefs.ErrInvalidArgument)
		}
		seen[c.ID] = true
		if c.SandboxID != sb.ID {
			return nil, fmt.Errorf("container %s belongs to sandbox %s, not %s: %w", c.ID, c.SandboxID, sb.ID, errdefs.ErrInvalidArgument)
		}
		// Names are checked at create; this one may be from before that.
		if err := validName(c.Config.GetMetadata().GetName()); err != nil {
			return nil, err
		}
		if st := c.Status(); st.State != runtimeapi.ContainerState_CONTAINER_RUNNING {
			return nil, fmt.Errorf("container %s is %s, only running containers can be checkpointed: %w", c.ID, stateName(st), errdefs.ErrFailedPrecondition)
		}
		cs = append(cs, c)
	}
	if err := m.cfg.CRIU.Check(ctx); err != nil {
		return nil, fmt.Errorf("checkpoint pod %s: %w", sb.ID, err)
	}
	return cs, nil
}

// PodCheckpoint is what RestorePod needs of a pod checkpoint directory.
type PodCheckpoint struct {
	Sandbox *runtimeapi.PodSandboxConfig
	// Archives are the container archives' absolute paths by container
	// name.
	Archives map[string]string
}

// ReadPodCheckpoint reads, without changing it, a directory CheckpointPod
// wrote; InvalidArgument when it is not one.
func ReadPodCheckpoint(dir string) (PodCheckpoint, error) {
	var pc PodCheckpoint
	if !filepath.IsAbs(dir) || filepath.Clean(dir) != dir {
		return pc, fmt.Errorf("checkpoint path %q is not a clean absolute path: %w", dir, errdefs.ErrInvalidArgument)
	}
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return pc, fmt.Errorf("checkpoint path %q is not a directory: %w", dir, errdefs.ErrInvalidArgument)
	}
	opts, _, err := metadata.ReadCheckpointPodOptions(dir)
	if err != nil {
		return pc, fmt.Errorf("%s is not a pod checkpoint: %w: %w", dir, err, errdefs.ErrInvalidArgument)
	}
	if opts.Version != podCheckpointVersion || len(opts.Containers) == 0 {
		return pc, fmt.Errorf("%s: pod checkpoint version %d with %d containers; Berth reads version %d with at least one: %w",
			dir, opts.Version, len(opts.Containers), podCheckpointVersion, errdefs.ErrInvalidArgument)
	}
	pc.Archives = map[string]string{}
	for name, rel := range opts.Containers {
		if !filepath.IsLocal(rel) {
			return pc, fmt.Errorf("%s: container %q's archive %q is outside the checkpoint: %w", dir, name, rel, errdefs.ErrInvalidArgument)
		}
		pc.Archives[name] = filepath.Join(dir, rel)
	}
	b, err := os.ReadFile(filepath.Join(dir, metadata.PodDumpFile))
	if err != nil {
		return pc, fmt.Errorf("%s is not a pod checkpoint: %w: %w", dir, err, errdefs.ErrInvalidArgument)
	}
	pc.Sandbox = &runtimeapi.PodSandboxConfig{}
	if err := json.Unmarshal(b, pc.Sandbox); err != nil {
		return pc, fmt.Errorf("%s: %s: %w: %w", dir, metadata.PodDumpFile, err, errdefs.ErrInvalidArgument)
	}
	return pc, nil
}

// MatchPodCheckpoint checks RestorePod's container configurations against
// the checkpoint: unique, non-empty names that are exactly the
// checkpoint's.
func MatchPodCheckpoint(pc PodCheckpoint, cfgs []*runtimeapi.ContainerConfig) error {
	if len(cfgs) == 0 {
		return fmt.Errorf("RestorePod needs a configuration for every container: %w", errdefs.ErrInvalidArgument)
	}
	var asked []string
	for _, cfg := range cfgs {
		name := cfg.GetMetadata().GetName()
		if name == "" {
			return fmt.Errorf("a container configuration has no metadata name: %w", errdefs.ErrInvalidArgument)
		}
		if slices.Contains(asked, name) {
			return fmt.Errorf("container %q is configured twice: %w", name, errdefs.ErrInvalidArgument)
		}
		asked = append(asked, name)
	}
	var have []string
	for name := range pc.Archives {
		have = append(have, name)
	}
	sort.Strings(asked)
	sort.Strings(have)
	if !slices.Equal(asked, have) {
		return fmt.Errorf("the configured containers %q are not the checkpoint's %q: %w", asked, have, errdefs.ErrInvalidArgument)
	}
	return nil
}

// CheckCRIU says whether CRIU can work here (see CRIU).
func (m *Manager) CheckCRIU(ctx context.Context) error { return m.cfg.CRIU.Check(ctx) }

// RefuseOptions refuses CheckpointPod's and RestorePod's runtime-specific
// options: Berth defines none, and the proto forbids ignoring them.
func RefuseOptions(opts map[string]string) error {
	if len(opts) == 0 {
		return nil
	}
	var keys []string
	for k := range opts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return fmt.Errorf("berth supports no checkpoint/restore options, got %q: %w", keys, errdefs.ErrInvalidArgument)
}

// requireEmptyDir checks CheckpointPod's output path: an existing, empty
// directory given by a clean absolute path.
func requireEmptyDir(dir string) error {
	if !filepath.IsAbs(dir) || filepath.Clean(dir) != dir {
		return fmt.Errorf("output path %q is not a clean absolute path: %w", dir, errdefs.ErrInvalidArgument)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("output path %q: %w: %w", dir, err, errdefs.ErrInvalidArgument)
	}
	if len(entries) > 0 {
		return fmt.Errorf("output path %q is not empty: %w", dir, errdefs.ErrInvalidArgument)
	}
	return nil
}

// clearDir removes what a failed CheckpointPod wrote into the caller's
// directory, but not the directory.
func clearDir(dir string) {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		os.RemoveAll(filepath.Join(dir, e.Name()))
	}
}
