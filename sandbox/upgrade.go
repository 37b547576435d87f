package sandbox

import (
	"context"
	"errors"
	"fmt"
	"syscall"

	"github.com/containerd/errdefs"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// kindLegacyPooled labelled the pause containers an older Berth's sandbox
// pool started ahead of the pods (legacy_linux.go).
const kindLegacyPooled = "sandbox-pool"

// removeLegacyPool removes what the sandbox pool of a Berth before 2026-12
// left on the node: its pauses and their tasks, records, leases, rootfs,
// namespaces and files, then its cgroups. On a node that never ran one it
// finds nothing, in one containerd list.
func (m *Manager) removeLegacyPool(ctx context.Context) []error {
	containers, err := m.cfg.Containerd.Containers.Containers(ctx, fmt.Sprintf("labels.%q==%s", LabelKind, kindLegacyPooled))
	if err != nil {
		return []error{fmt.Errorf("list an older Berth's pooled sandboxes: %w", err)}
	}
	var errs []error
	for _, c := range containers {
		_, md, err := recordedMetadata(ctx, c)
		if err != nil {
			errs = append(errs, fmt.Errorf("pooled sandbox %s: %w", c.ID(), err))
			continue
		}
		// A pooled sandbox never had a network; its pause may run.
		sb := newSandbox(*md, Status{State: runtimeapi.PodSandboxState_SANDBOX_NOTREADY, NetworkTornDown: true})
		cctx, cancel := cleanupContext(ctx)
		kerr := m.cfg.Containerd.Tasks.Kill(cctx, sb.ID, syscall.SIGKILL)
		if errdefs.IsNotFound(kerr) {
			kerr = nil
		}
		err = errors.Join(kerr, m.releaseRuntime(cctx, sb), m.removeRecords(cctx, sb), m.awaitUnmount(cctx, sb))
		cancel()
		if err != nil {
			errs = append(errs, fmt.Errorf("remove pooled sandbox %s: %w", c.ID(), err))
			continue
		}
		m.cfg.Logger.Info("removed a sandbox an older Berth's pool started ahead", "sandbox", sb.ID)
	}
	if err := m.node.RemoveLegacyPoolCgroups(); err != nil {
		errs = append(errs, fmt.Errorf("remove an older Berth's pool cgroups: %w", err))
	}
	return errs
}
