package handlers

import (
	"context"
	"fmt"
	"slices"

	introspectionapi "github.com/containerd/containerd/api/services/introspection/v1"
	apitypes "github.com/containerd/containerd/api/types"
	"github.com/containerd/containerd/v2/plugins"
	"github.com/containerd/typeurl/v2"
	"github.com/opencontainers/runtime-spec/specs-go/features"
)

// Introspector is containerd's introspection service
// (containerd.Client.IntrospectionService()).
type Introspector interface {
	PluginInfo(ctx context.Context, pluginType, id string, options any) (*introspectionapi.PluginInfoResponse, error)
}

// Kernel is what the node's kernel can do for any runtime.
type Kernel struct {
	// RecursiveReadOnly: mount_setattr (Linux 5.12).
	RecursiveReadOnly bool
	// IDMappedLayers: idmapped overlayfs and bind mounts (Linux 5.19),
	// which pod user namespaces need of the snapshotter.
	IDMappedLayers bool
}

// Probe asks containerd, for each handler, what its runtime supports and
// records it, and learns which OCI version its runtime accepts
// (specversion.go); it returns, by handler, why a runtime could not tell (it is
// then reported supporting neither feature). Call it once, before serving.
func (s *Set) Probe(ctx context.Context, intro Introspector, k Kernel) map[string]error {
	problems := map[string]error{}
	for _, h := range s.All() {
		if h.Binary != "" {
			h.specVersion = specVersionFor(declaredSpecVersion(ctx, h.Binary))
		}
		f, err := runtimeFeatures(ctx, intro, h)
		if err != nil {
			problems[h.Name] = err
			continue
		}
		h.features = featuresOf(f, k)
	}
	return problems
}

// featuresOf reads the OCI features document as containerd's CRI does:
// recursive read-only mounts need the "rro" mount option; pod user
// namespaces need the user namespace and idmapped mounts.
func featuresOf(f *features.Features, k Kernel) Features {
	var out Features
	out.RecursiveReadOnlyMounts = k.RecursiveReadOnly && slices.Contains(f.MountOptions, "rro")
	if l := f.Linux; l != nil && slices.Contains(l.Namespaces, "user") {
		m := l.MountExtensions
		idmap := m != nil && m.IDMap != nil && m.IDMap.Enabled != nil && *m.IDMap.Enabled
		out.UserNamespaces = idmap && k.IDMappedLayers
	}
	return out
}

// runtimeFeatures is the shim's answer to `<shim> -info` with h's options,
// for which runc's shim runs `<binary> features`.
func runtimeFeatures(ctx context.Context, intro Introspector, h *Handler) (*features.Features, error) {
	opts, err := typeurl.MarshalAnyToProto(h.Options())
	if err != nil {
		return nil, err
	}
	resp, err := intro.PluginInfo(ctx, string(plugins.RuntimePluginV2), "task", &apitypes.RuntimeRequest{RuntimePath: h.Type, Options: opts})
	if err != nil {
		return nil, fmt.Errorf("runtime info of %s: %w", h.Type, err)
	}
	if resp.GetExtra() == nil {
		return nil, fmt.Errorf("%s gave no runtime info", h.Type)
	}
	var info apitypes.RuntimeInfo
	if err := typeurl.UnmarshalTo(resp.GetExtra(), &info); err != nil {
		return nil, fmt.Errorf("runtime info of %s: %w", h.Type, err)
	}
	if info.GetFeatures() == nil {
		return nil, fmt.Errorf("the runtime of %s does not report its features (no `features` command)", h.Name)
	}
	v, err := typeurl.UnmarshalAny(info.GetFeatures())
	if err != nil {
		return nil, fmt.Errorf("features of %s: %w", h.Name, err)
	}
	f, ok := v.(*features.Features)
	if !ok {
		return nil, fmt.Errorf("features of %s are %T", h.Name, v)
	}
	return f, nil
}
