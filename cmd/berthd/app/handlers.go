package app

import (
	"context"
	"log/slog"
	"time"

	"github.com/berth-cri/berth/internal/cgroup"
	"github.com/berth-cri/berth/internal/config"
	"github.com/berth-cri/berth/internal/handlers"
	"github.com/berth-cri/berth/internal/host"
)

// runtimeHandlers builds the configured runtime handlers. A runc-type
// handler without a binary runs containerd.runc_binary (resolved by
// checkHost); another binary that cannot be found is logged, not fatal:
// only that handler's pods fail, as with containerd.
func runtimeHandlers(cfg config.Config, runc string, driver cgroup.Driver, log *slog.Logger) (*handlers.Set, error) {
	specs := map[string]handlers.Spec{}
	for name, r := range cfg.Runtimes {
		spec := handlers.Spec{Type: r.ShimType(), Options: r.Options}
		if spec.Type == config.RuncShim {
			spec.Root = cfg.RuntimeRoot(name)
			spec.Binary, spec.Runc = runc, true
			if r.Binary != "" {
				bin, err := host.LookPath(r.Binary)
				if err != nil {
					log.Warn("runtime handler's binary not found; its pods will fail to start", "handler", name, "binary", r.Binary, "error", err)
					bin = r.Binary
				}
				spec.Binary, spec.Runc = bin, bin == runc || r.Binary == "runc"
			}
		}
		specs[name] = spec
	}
	return handlers.New(specs, cfg.DefaultRuntime, handlers.Node{
		SystemdCgroup: driver == cgroup.Systemd,
	})
}

// probeHandlers learns what each handler's runtime supports, through
// containerd, which asks the shim (and runc's shim the runtime's
// `features`).
func probeHandlers(ctx context.Context, set *handlers.Set, intro handlers.Introspector, node host.Facts, log *slog.Logger) {
	k := handlers.Kernel{RecursiveReadOnly: node.RecursiveReadOnlySupported(), IDMappedLayers: node.UserNamespacesSupported()}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	problems := set.Probe(ctx, intro, k)
	for _, h := range set.All() {
		if err := problems[h.Name]; err != nil {
			log.Info("runtime handler reports no features: it is offered without recursive read-only mounts and user namespaces", "handler", h.Name, "reason", err)
			continue
		}
		f := h.Features()
		log.Info("runtime handler", "handler", h.Name, "type", h.Type, "binary", h.Binary, "recursiveReadOnlyMounts", f.RecursiveReadOnlyMounts, "userNamespaces", f.UserNamespaces)
	}
}
