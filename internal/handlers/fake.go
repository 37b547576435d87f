package handlers

import (
	"context"
	"errors"

	introspectionapi "github.com/containerd/containerd/api/services/introspection/v1"
	apitypes "github.com/containerd/containerd/api/types"
	"github.com/containerd/containerd/api/types/runc/options"
	"github.com/containerd/typeurl/v2"
	"github.com/opencontainers/runtime-spec/specs-go/features"
)

// FakeIntrospector answers runtime info as runc's shim would, with the
// features document of each runc-shim binary it has one for; other shims
// are not installed. For tests of what reads features.
type FakeIntrospector map[string]*features.Features

// PluginInfo answers a runtime introspection request for a runc shim with
// the features document f holds for its binary (none if f has none), and
// fails for options that are not runc's.
func (f FakeIntrospector) PluginInfo(_ context.Context, _, _ string, opts any) (*introspectionapi.PluginInfoResponse, error) {
	req := opts.(*apitypes.RuntimeRequest)
	v, err := typeurl.UnmarshalAny(req.GetOptions())
	if err != nil {
		return nil, err
	}
	ro, ok := v.(*options.Options)
	if !ok {
		return nil, errors.New("no such shim")
	}
	info := &apitypes.RuntimeInfo{Name: req.GetRuntimePath()}
	if feat := f[ro.BinaryName]; feat != nil {
		if info.Features, err = typeurl.MarshalAnyToProto(feat); err != nil {
			return nil, err
		}
	}
	extra, err := typeurl.MarshalAnyToProto(info)
	if err != nil {
		return nil, err
	}
	return &introspectionapi.PluginInfoResponse{Extra: extra}, nil
}
