package container

import (
	"context"
	"time"

	"github.com/containerd/containerd/v2/core/containers"
	"github.com/containerd/typeurl/v2"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

const (
	extensionStatus = "io.berth.container.status"
	// A record's name in containerd, kept across the package's move
	// (see typeURLMetadata).
	typeURLStatus = "github.com/berth-cri/berth/runtime/container.StatusRecord"
)

// StatusRecord is the part of Status that must survive a berthd restart:
// kubelet decides restarts from exit codes and times it saw before.
type StatusRecord struct {
	State      runtimeapi.ContainerState           `json:"state"`
	StartedAt  time.Time                           `json:"startedAt,omitzero"`
	FinishedAt time.Time                           `json:"finishedAt,omitzero"`
	ExitCode   int32                               `json:"exitCode"`
	Reason     string                              `json:"reason,omitempty"`
	Message    string                              `json:"message,omitempty"`
	Resources  *runtimeapi.LinuxContainerResources `json:"resources,omitempty"`
}

func init() {
	typeurl.Register(&StatusRecord{}, typeURLStatus)
}

func recordOf(s Status) *StatusRecord {
	return &StatusRecord{State: s.State, StartedAt: s.StartedAt, FinishedAt: s.FinishedAt, ExitCode: s.ExitCode, Reason: s.Reason, Message: s.Message, Resources: s.Resources}
}

func (r *StatusRecord) apply(s Status) Status {
	s.State, s.StartedAt, s.FinishedAt, s.ExitCode = r.State, r.StartedAt, r.FinishedAt, r.ExitCode
	s.Reason, s.Message = r.Reason, r.Message
	if r.Resources != nil {
		s.Resources = r.Resources
	}
	return s
}

// persistStatus writes the container's status to its containerd record.
// A failure is logged: the container runs on, and after a restart its
// status is worked out from the task as well as it can be.
func (m *Manager) persistStatus(ctx context.Context, c *Container) {
	ctx, cancel := cleanupContext(ctx)
	defer cancel()
	rec, err := typeurl.MarshalAny(recordOf(c.Status()))
	if err != nil {
		m.log.Warn("encoding container status", "container", c.ID, "error", err)
		return
	}
	// Only this extension is written, so a concurrent spec update (a
	// resize) is not lost.
	err = m.cfg.Records.Update(ctx,
		containers.Container{ID: c.ID, Extensions: map[string]typeurl.Any{extensionStatus: rec}},
		"extensions."+extensionStatus)
	if err != nil {
		m.log.Warn("recording container status in containerd", "container", c.ID, "error", err)
	}
}
