package handlers

import (
	"bytes"
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/containerd/containerd/api/types/runc/options"
	runtimeoptions "github.com/containerd/containerd/api/types/runtimeoptions/v1"
	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/containers"
	"github.com/containerd/errdefs"
	"github.com/pelletier/go-toml/v2"
	"google.golang.org/protobuf/proto"
)

// RuncShim is containerd's runc shim: it runs any runc-compatible OCI
// runtime (runc, crun) named by its options' BinaryName.
const RuncShim = "io.containerd.runc.v2"

// Spec configures one handler (config.Runtime, resolved by berthd).
type Spec struct {
	// Type is the containerd runtime; empty means RuncShim.
	Type string
	// Binary and Root are the OCI runtime's absolute path and state root,
	// for RuncShim only.
	Binary, Root string
	// Options are extra shim options, with containerd's key names.
	Options map[string]any
	// Runc says Binary is runc (containerd.runc_binary, or named runc).
	Runc bool
}

// Node is what the node decides for every handler.
type Node struct {
	// SystemdCgroup is true when the effective cgroup driver is systemd:
	// runc-type shims then have their runtime manage cgroups through
	// systemd, as kubelet's cgroup parents (slices) expect. This is the
	// one place the driver reaches the runtimes.
	SystemdCgroup bool
}

// Handler is one configured runtime handler.
type Handler struct {
	Name string
	// Type is the containerd runtime.
	Type string
	// Binary and Root are the OCI runtime and its state root; empty for
	// other shims than RuncShim.
	Binary, Root string
	options      proto.Message
	runc         bool
	features     Features
	// specVersion, when set, is the ociVersion written into h's specs
	// (specversion.go).
	specVersion string
}

// Features is what a handler's runtime supports, as kubelet reads it.
type Features struct {
	RecursiveReadOnlyMounts bool
	UserNamespaces          bool
}

// Set is the configured handlers. It is immutable once Probe ran.
type Set struct {
	byName map[string]*Handler
	names  []string
	def    string
}

// New builds the handlers of specs, def being the default's name. A
// handler whose options do not decode into its shim's options type is
// InvalidArgument.
func New(specs map[string]Spec, def string, node Node) (*Set, error) {
	s := &Set{byName: map[string]*Handler{}, def: def}
	for name, spec := range specs {
		h := &Handler{Name: name, Type: spec.Type, Binary: spec.Binary, Root: spec.Root, runc: spec.Runc}
		if h.Type == "" {
			h.Type = RuncShim
		}
		opts, err := shimOptions(h.Type, spec.Options)
		if err != nil {
			return nil, fmt.Errorf("runtimes.%s.options: %w", name, err)
		}
		if ro, ok := opts.(*options.Options); ok {
			ro.BinaryName, ro.Root, ro.SystemdCgroup = spec.Binary, spec.Root, node.SystemdCgroup
		}
		h.options = opts
		s.byName[name] = h
		s.names = append(s.names, name)
	}
	sort.Strings(s.names)
	if _, ok := s.byName[def]; !ok {
		return nil, fmt.Errorf("default runtime handler %q is not configured: %w", def, errdefs.ErrInvalidArgument)
	}
	return s, nil
}

// shimOptions decodes extra into the options type of a shim: runc's for
// the runc shim, containerd's generic runtime options otherwise (the type
// Kata and gVisor read their ConfigPath from). Like containerd, it
// decodes the TOML table onto the type's fields by name.
func shimOptions(shim string, extra map[string]any) (proto.Message, error) {
	var opts proto.Message = &runtimeoptions.Options{}
	if shim == RuncShim || shim == "io.containerd.runc.v1" {
		opts = &options.Options{}
	}
	if len(extra) == 0 {
		return opts, nil
	}
	data, err := toml.Marshal(extra)
	if err != nil {
		return nil, fmt.Errorf("%v: %w", err, errdefs.ErrInvalidArgument)
	}
	if err := toml.NewDecoder(bytes.NewReader(data)).DisallowUnknownFields().Decode(opts); err != nil {
		return nil, fmt.Errorf("not options of %s: %v: %w", shim, err, errdefs.ErrInvalidArgument)
	}
	return opts, nil
}

// Lookup returns the handler named name, the default one for "".
func (s *Set) Lookup(name string) (*Handler, error) {
	if name == "" {
		name = s.def
	}
	h, ok := s.byName[name]
	if !ok {
		return nil, fmt.Errorf("runtime handler %q is not configured (known: %s): %w", name, strings.Join(s.names, ", "), errdefs.ErrInvalidArgument)
	}
	return h, nil
}

// Default is the handler of pods that name none.
func (s *Set) Default() *Handler { return s.byName[s.def] }

// All returns the handlers by name.
func (s *Set) All() []*Handler {
	hs := make([]*Handler, 0, len(s.names))
	for _, n := range s.names {
		hs = append(hs, s.byName[n])
	}
	return hs
}

// Options returns a copy of h's shim options, the caller's to change.
func (h *Handler) Options() proto.Message { return proto.Clone(h.options) }

// RuncOptions returns a copy of h's runc shim options, nil for other shims.
func (h *Handler) RuncOptions() *options.Options {
	o, _ := h.Options().(*options.Options)
	return o
}

// ContainerOpts gives a new containerd container h's runtime, and its
// spec the version h's runtime accepts: it must come after the spec.
func (h *Handler) ContainerOpts() containerd.NewContainerOpts {
	runtime := containerd.WithRuntime(h.Type, h.Options())
	if h.specVersion == "" {
		return runtime
	}
	return func(ctx context.Context, client *containerd.Client, c *containers.Container) error {
		if err := runtime(ctx, client, c); err != nil {
			return err
		}
		return setSpecVersion(c, h.specVersion)
	}
}

// Features is what h's runtime was found to support (Probe).
func (h *Handler) Features() Features { return h.features }

// IsRunc says whether h runs runc itself through runc's shim: only then
// may Berth rely on runc's behaviour beyond the OCI runtime interface.
func (h *Handler) IsRunc() bool { return h.Type == RuncShim && h.runc }
