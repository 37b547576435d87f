package nri

import (
	"context"
	"fmt"
	"maps"

	"github.com/containerd/errdefs"
	"github.com/containerd/nri/pkg/api"
	nrigen "github.com/containerd/nri/pkg/runtime-tools/generate"
	"github.com/containerd/typeurl/v2"
	rspec "github.com/opencontainers/runtime-spec/specs-go"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/berth-cri/berth/container"
	"github.com/berth-cri/berth/sandbox"
)

// CreateContainer asks plugins about a container about to be created and
// applies their adjustment to spec. The caller holds BlockSync; the
// container is not in the store yet.
func (a *API) CreateContainer(ctx context.Context, c *container.Container, spec *rspec.Spec) error {
	if !a.synced.Load() {
		return nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	pod, err := a.pod(c.SandboxID)
	if err != nil {
		return err
	}
	rpl, err := a.nri.CreateContainer(ctx, &api.CreateContainerRequest{Pod: pod, Container: a.container(ctx, c, spec)})
	a.setState(c.ID, created)
	if err != nil {
		return err
	}
	if err := adjustSpec(spec, rpl.GetAdjust()); err != nil {
		return err
	}
	_, _ = a.apply(ctx, rpl.GetUpdate(), rpl.GetEvict()) // apply logs each failure; other containers' updates do not fail this event
	return nil
}

// adjustSpec applies a plugins' adjustment to spec. What Berth cannot
// honour (block I/O and RDT classes, CDI devices) is refused rather than
// ignored: the plugin must not believe the container got it.
func adjustSpec(spec *rspec.Spec, adj *api.ContainerAdjustment) error {
	if adj == nil {
		return nil
	}
	g := nrigen.SpecGenerator(&specEditor{spec: spec},
		nrigen.WithBlockIOResolver(func(class string) (*rspec.LinuxBlockIO, error) {
			return nil, fmt.Errorf("block I/O class %q: Berth has no block I/O classes: %w", class, errdefs.ErrNotImplemented)
		}),
		nrigen.WithRdtResolver(func(class string) (*rspec.LinuxIntelRdt, error) {
			return nil, fmt.Errorf("RDT class %q: Berth has no RDT classes: %w", class, errdefs.ErrNotImplemented)
		}),
		nrigen.WithCDIDeviceInjector(func(_ *rspec.Spec, devices []string) error {
			return fmt.Errorf("CDI devices %v: Berth does not inject CDI devices: %w", devices, errdefs.ErrNotImplemented)
		}),
	)
	if err := g.Adjust(adj); err != nil {
		return fmt.Errorf("apply NRI adjustment: %w", err)
	}
	return nil
}

// UndoCreateContainer tells plugins that a container they agreed to was
// not created after all. The caller still holds BlockSync.
func (a *API) UndoCreateContainer(ctx context.Context, c *container.Container) {
	if !a.synced.Load() {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	ctr := a.container(ctx, c, &rspec.Spec{})
	pod, _ := a.pod(c.SandboxID)
	a.stopContainer(ctx, pod, ctr)
	a.removeContainer(ctx, pod, ctr)
}

// PostCreateContainer tells plugins a container was created.
func (a *API) PostCreateContainer(ctx context.Context, c *container.Container) {
	a.post(ctx, c, "PostCreateContainer", func(pod *api.PodSandbox, ctr *api.Container) error {
		return a.nri.PostCreateContainer(ctx, &api.PostCreateContainerRequest{Pod: pod, Container: ctr})
	})
}

// StartContainer asks plugins before a container's process starts; an
// error fails the start.
func (a *API) StartContainer(ctx context.Context, c *container.Container) error {
	defer a.BlockSync()()
	if !a.synced.Load() {
		return nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	pod, err := a.pod(c.SandboxID)
	if err != nil {
		return err
	}
	err = a.nri.StartContainer(ctx, &api.StartContainerRequest{Pod: pod, Container: a.container(ctx, c, nil)})
	a.setState(c.ID, running)
	return err
}

// PostStartContainer tells plugins a container's process started.
func (a *API) PostStartContainer(ctx context.Context, c *container.Container) {
	a.post(ctx, c, "PostStartContainer", func(pod *api.PodSandbox, ctr *api.Container) error {
		return a.nri.PostStartContainer(ctx, &api.PostStartContainerRequest{Pod: pod, Container: ctr})
	})
}

// UpdateContainer asks plugins about a resource update; they may change
// it. It returns the resources to apply, or nil for r unchanged.
func (a *API) UpdateContainer(ctx context.Context, c *container.Container, r *runtimeapi.LinuxContainerResources) (*runtimeapi.LinuxContainerResources, error) {
	defer a.BlockSync()()
	if !a.synced.Load() {
		return nil, nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	pod, err := a.pod(c.SandboxID)
	if err != nil {
		return nil, err
	}
	rpl, err := a.nri.UpdateContainer(ctx, &api.UpdateContainerRequest{Pod: pod, Container: a.container(ctx, c, nil), LinuxResources: fromCRIResources(r)})
	if err != nil {
		return nil, err
	}
	// The last update is the one for this container; the others are
	// updates plugins want of other containers to make room.
	updates := rpl.GetUpdate()
	var own *runtimeapi.LinuxContainerResources
	if n := len(updates); n > 0 && updates[n-1].GetContainerId() == c.ID {
		own = toCRIResources(updates[n-1].GetLinux().GetResources())
		updates = updates[:n-1]
	}
	_, _ = a.apply(ctx, updates, rpl.GetEvict()) // apply logs each failure; other containers' updates do not fail this one
	return own, nil
}

// PostUpdateContainer tells plugins a container's resources changed.
func (a *API) PostUpdateContainer(ctx context.Context, c *container.Container) {
	a.post(ctx, c, "PostUpdateContainer", func(pod *api.PodSandbox, ctr *api.Container) error {
		return a.nri.PostUpdateContainer(ctx, &api.PostUpdateContainerRequest{Pod: pod, Container: ctr})
	})
}

// StopContainer tells plugins a container stopped, once, whether it was
// stopped or exited on its own.
func (a *API) StopContainer(ctx context.Context, c *container.Container) {
	defer a.BlockSync()()
	if !a.synced.Load() {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.needsStop(c.ID) {
		return
	}
	pod, _ := a.pod(c.SandboxID)
	a.stopContainer(ctx, pod, a.container(ctx, c, nil))
}

// RemoveContainer tells plugins a container is gone (stopped first, if
// they were not told).
func (a *API) RemoveContainer(ctx context.Context, c *container.Container) {
	defer a.BlockSync()()
	if !a.synced.Load() {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.needsRemove(c.ID) {
		return
	}
	pod, _ := a.pod(c.SandboxID)
	ctr := a.container(ctx, c, nil)
	a.stopContainer(ctx, pod, ctr)
	a.removeContainer(ctx, pod, ctr)
}

// stopContainer and removeContainer tell plugins once; a.mu held.
func (a *API) stopContainer(ctx context.Context, pod *api.PodSandbox, ctr *api.Container) {
	if !a.needsStop(ctr.Id) {
		return
	}
	a.setState(ctr.Id, stopped)
	rpl, err := a.nri.StopContainer(ctx, &api.StopContainerRequest{Pod: pod, Container: ctr})
	if err != nil {
		a.log.Warn("an NRI plugin failed StopContainer", "container", ctr.Id, "error", err)
		return
	}
	_, _ = a.apply(ctx, rpl.GetUpdate(), nil) // apply logs each failure; the stop goes on
}

func (a *API) removeContainer(ctx context.Context, pod *api.PodSandbox, ctr *api.Container) {
	if !a.needsRemove(ctr.Id) {
		return
	}
	a.setState(ctr.Id, 0)
	if err := a.nri.RemoveContainer(ctx, &api.RemoveContainerRequest{Pod: pod, Container: ctr}); err != nil {
		a.log.Warn("an NRI plugin failed RemoveContainer", "container", ctr.Id, "error", err)
	}
}

// post tells plugins of something done; their errors change nothing.
func (a *API) post(ctx context.Context, c *container.Container, event string, send func(*api.PodSandbox, *api.Container) error) {
	if !a.synced.Load() {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	pod, err := a.pod(c.SandboxID)
	if err == nil {
		err = send(pod, a.container(ctx, c, nil))
	}
	if err != nil {
		a.log.Warn("an NRI plugin failed "+event, "container", c.ID, "error", err)
	}
}

// pod is the sandbox id as NRI shows it; a sandbox gone shows its ID only.
func (a *API) pod(id string) (*api.PodSandbox, error) {
	sb, err := a.sandboxes.Get(id)
	if err != nil {
		return &api.PodSandbox{Id: id}, err
	}
	return podSandbox(sb), nil
}

// container is c as NRI shows it to plugins. spec is its OCI spec, read
// from containerd when nil; a container containerd no longer has shows
// what its metadata says.
func (a *API) container(ctx context.Context, c *container.Container, spec *rspec.Spec) *api.Container {
	if spec == nil {
		spec = a.loadSpec(ctx, c.ID)
	}
	st := c.Status()
	ctr := &api.Container{
		Id:            c.ID,
		PodSandboxId:  c.SandboxID,
		Name:          c.Config.GetMetadata().GetName(),
		State:         containerState(st.State),
		Labels:        maps.Clone(c.Config.GetLabels()),
		Annotations:   maps.Clone(spec.Annotations),
		Mounts:        api.FromOCIMounts(spec.Mounts),
		Hooks:         api.FromOCIHooks(spec.Hooks),
		Pid:           st.Pid,
		CreatedAt:     c.CreatedAt.UnixNano(),
		ExitCode:      st.ExitCode,
		StatusReason:  st.Reason,
		StatusMessage: st.Message,
		User:          &api.User{Uid: c.User.UID, Gid: c.User.GID, AdditionalGids: c.User.SupplementalGroups},
		Image:         &api.Image{Name: c.ImageName, ConfigDigest: c.ImageID},
	}
	if ctr.Annotations == nil {
		ctr.Annotations = map[string]string{}
	}
	maps.Copy(ctr.Annotations, c.Config.GetAnnotations())
	if !st.StartedAt.IsZero() {
		ctr.StartedAt = st.StartedAt.UnixNano()
	}
	if !st.FinishedAt.IsZero() {
		ctr.FinishedAt = st.FinishedAt.UnixNano()
	}
	if p := spec.Process; p != nil {
		ctr.Args = append([]string(nil), p.Args...)
		ctr.Env = append([]string(nil), p.Env...)
		for _, l := range p.Rlimits {
			ctr.Rlimits = append(ctr.Rlimits, &api.POSIXRlimit{Type: l.Type, Hard: l.Hard, Soft: l.Soft})
		}
	}
	linux := &api.LinuxContainer{CgroupsPath: c.CgroupsPath}
	if l := spec.Linux; l != nil {
		linux.Namespaces = api.FromOCILinuxNamespaces(l.Namespaces)
		linux.Devices = api.FromOCILinuxDevices(l.Devices)
		linux.Resources = api.FromOCILinuxResources(l.Resources, spec.Annotations)
		linux.Sysctl = maps.Clone(l.Sysctl)
		if l.CgroupsPath != "" {
			linux.CgroupsPath = l.CgroupsPath
		}
		if l.Seccomp != nil {
			linux.SeccompPolicy = api.FromOCILinuxSeccomp(l.Seccomp)
		}
	}
	if p := spec.Process; p != nil && p.OOMScoreAdj != nil {
		linux.OomScoreAdj = api.Int(p.OOMScoreAdj)
	}
	if sp := c.Config.GetLinux().GetSecurityContext().GetSeccomp(); sp != nil {
		linux.SeccompProfile = &api.SecurityProfile{
			ProfileType:  api.SecurityProfile_ProfileType(sp.GetProfileType()),
			LocalhostRef: sp.GetLocalhostRef(),
		}
	}
	ctr.Linux = linux
	return ctr
}

func (a *API) loadSpec(ctx context.Context, id string) *rspec.Spec {
	spec := &rspec.Spec{}
	rec, err := a.cfg.Client.ContainerService().Get(a.nsContext(ctx), id)
	if err != nil {
		if !errdefs.IsNotFound(err) {
			a.log.Warn("reading a container's spec for NRI", "container", id, "error", err)
		}
		return spec
	}
	if err := typeurl.UnmarshalTo(rec.Spec, spec); err != nil {
		a.log.Warn("decoding a container's spec for NRI", "container", id, "error", err)
	}
	return spec
}

func containerState(s runtimeapi.ContainerState) api.ContainerState {
	switch s {
	case runtimeapi.ContainerState_CONTAINER_CREATED:
		return api.ContainerState_CONTAINER_CREATED
	case runtimeapi.ContainerState_CONTAINER_RUNNING:
		return api.ContainerState_CONTAINER_RUNNING
	case runtimeapi.ContainerState_CONTAINER_EXITED:
		return api.ContainerState_CONTAINER_STOPPED
	}
	return api.ContainerState_CONTAINER_UNKNOWN
}

var (
	_ sandbox.NRI   = (*API)(nil)
	_ container.NRI = (*API)(nil)
)
