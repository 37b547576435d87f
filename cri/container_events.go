package cri

import (
	"context"
	"errors"
	"fmt"
	"time"

	apievents "github.com/containerd/containerd/api/events"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/containerd/errdefs"
	"github.com/containerd/typeurl/v2"
	"google.golang.org/grpc"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/berth-cri/berth/runtime/container"
	"github.com/berth-cri/berth/sandbox"
)

// settleTimeout bounds how long an event waits for Berth's own record to
// show the change containerd announced (the exit recorded, the start
// noted): an event must carry the statuses kubelet's evented PLEG will
// trust, not the ones from just before.
const settleTimeout = 5 * time.Second

// GetContainerEvents streams container lifecycle events (created,
// started, stopped, deleted) with the pod's and its containers' statuses,
// for kubelet's evented PLEG, until the client goes away. Each call
// subscribes to containerd's events for Berth's namespace; events of
// other containers (pause) are left out.
func (s *Service) GetContainerEvents(_ *runtimeapi.GetEventsRequest, stream grpc.ServerStreamingServer[runtimeapi.ContainerEventResponse]) error {
	if s.client == nil {
		return fmt.Errorf("no containerd client: %w", errdefs.ErrNotImplemented)
	}
	ctx := stream.Context()
	ns := fmt.Sprintf("namespace==%q", s.namespace)
	envelopes, errs := s.client.EventService().Subscribe(ctx,
		ns+`,topic=="/containers/create"`, ns+`,topic=="/tasks/start"`,
		ns+`,topic=="/tasks/exit"`, ns+`,topic=="/containers/delete"`)
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-errs:
			if err == nil || errors.Is(err, context.Canceled) {
				return nil
			}
			return fmt.Errorf("containerd events: %w", err)
		case env := <-envelopes:
			ev, err := typeurl.UnmarshalAny(env.Event)
			if err != nil {
				continue
			}
			resp := s.containerEvent(ctx, ev)
			if resp == nil {
				continue
			}
			resp.CreatedAt = env.Timestamp.UnixNano()
			if err := stream.Send(resp); err != nil {
				return err
			}
		}
	}
}

// containerEvent turns a containerd event into a CRI one once Berth's
// store agrees with it; nil for events kubelet has no use for.
func (s *Service) containerEvent(ctx context.Context, ev any) *runtimeapi.ContainerEventResponse {
	var id string
	var typ runtimeapi.ContainerEventType
	switch e := ev.(type) {
	case *apievents.ContainerCreate:
		id, typ = e.ID, runtimeapi.ContainerEventType_CONTAINER_CREATED_EVENT
	case *apievents.TaskStart:
		id, typ = e.ContainerID, runtimeapi.ContainerEventType_CONTAINER_STARTED_EVENT
	case *apievents.TaskExit:
		if e.ID != e.ContainerID {
			return nil // an exec process
		}
		id, typ = e.ContainerID, runtimeapi.ContainerEventType_CONTAINER_STOPPED_EVENT
	case *apievents.ContainerDelete:
		id, typ = e.ID, runtimeapi.ContainerEventType_CONTAINER_DELETED_EVENT
	default:
		return nil
	}
	store := s.containers.Store()
	var sandboxID string
	if typ == runtimeapi.ContainerEventType_CONTAINER_DELETED_EVENT {
		// Only a container Berth still knows is one of its own (not a
		// pause container); the event is sent once the store let it go.
		c, err := store.Get(id)
		if err != nil {
			return nil
		}
		sandboxID = c.SandboxID
		waitFor(ctx, func() bool { _, err := store.Get(id); return err != nil })
	} else {
		if !s.isContainer(ctx, id) {
			return nil
		}
		var c *container.Container
		if !waitFor(ctx, func() bool {
			var err error
			c, err = store.Get(id)
			return err == nil && settled(c, typ)
		}) && c == nil {
			return nil
		}
		sandboxID = c.SandboxID
	}
	resp := &runtimeapi.ContainerEventResponse{ContainerId: id, ContainerEventType: typ}
	if st, err := s.PodSandboxStatus(ctx, &runtimeapi.PodSandboxStatusRequest{PodSandboxId: sandboxID}); err == nil {
		resp.PodSandboxStatus = st.Status
	}
	for _, sib := range store.ListSandbox(sandboxID) {
		if st, err := s.ContainerStatus(ctx, &runtimeapi.ContainerStatusRequest{ContainerId: sib.ID}); err == nil {
			resp.ContainersStatuses = append(resp.ContainersStatuses, st.Status)
		}
	}
	return resp
}

// settled reports whether the store shows what the event announced.
func settled(c *container.Container, typ runtimeapi.ContainerEventType) bool {
	switch typ {
	case runtimeapi.ContainerEventType_CONTAINER_STARTED_EVENT:
		return c.Status().State != runtimeapi.ContainerState_CONTAINER_CREATED
	case runtimeapi.ContainerEventType_CONTAINER_STOPPED_EVENT:
		select {
		case <-c.Exited():
			return true
		default:
			return false
		}
	}
	return true
}

// isContainer tells Berth's containers from pause containers by their
// containerd label.
func (s *Service) isContainer(ctx context.Context, id string) bool {
	ctx = namespaces.WithNamespace(ctx, s.namespace)
	cont, err := s.client.LoadContainer(ctx, id)
	if err != nil {
		return false
	}
	labels, err := cont.Labels(ctx)
	return err == nil && labels[sandbox.LabelKind] == container.KindContainer
}

// waitFor polls cond until it holds (true) or settleTimeout passes.
func waitFor(ctx context.Context, cond func() bool) bool {
	deadline := time.Now().Add(settleTimeout)
	for !cond() {
		if time.Now().After(deadline) || ctx.Err() != nil {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}
