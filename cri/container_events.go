package cri

import (
	"fmt"

	"github.com/containerd/errdefs"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/berth-cri/berth/container"
	"github.com/berth-cri/berth/internal/lifecycle"
	"github.com/berth-cri/berth/sandbox"
)

// eventBuffer is how many events a subscriber may lag behind before it is
// cut off: a burst of pod starts on a busy node fits.
const eventBuffer = 1024

// GetContainerEvents streams the lifecycle events of pod sandboxes and
// containers (created, started, stopped, deleted) for kubelet's evented
// PLEG, until the client goes away. Berth publishes each event once the
// change is recorded, so the statuses an event carries already show it.
// A sandbox's own events carry its ID as the container ID, as kubelet
// expects. A client too slow to keep up is told so (ResourceExhausted)
// instead of slowing pods down or silently missing events; it resubscribes
// and relists.
func (s *Service) GetContainerEvents(_ *runtimeapi.GetEventsRequest, stream grpc.ServerStreamingServer[runtimeapi.ContainerEventResponse]) error {
	if s.events == nil {
		return fmt.Errorf("no event source: %w", errdefs.ErrNotImplemented)
	}
	sub := s.events.Subscribe(eventBuffer)
	defer sub.Close()
	ctx := stream.Context()
	for {
		select {
		case <-ctx.Done():
			return nil
		case e, ok := <-sub.C():
			if !ok {
				if sub.Lost() {
					return status.Errorf(codes.ResourceExhausted, "the event stream fell more than %d events behind; subscribe again and relist", eventBuffer)
				}
				return nil
			}
			if err := stream.Send(s.containerEvent(e)); err != nil {
				return err
			}
		}
	}
}

// containerEvent describes e with the pod's status and its containers'
// as they are now. A container that is gone still appears in the events
// before its deletion, from the event's own record of it.
func (s *Service) containerEvent(e lifecycle.Event) *runtimeapi.ContainerEventResponse {
	resp := &runtimeapi.ContainerEventResponse{ContainerId: e.ID, CreatedAt: e.At.UnixNano(), ContainerEventType: eventType(e.Kind)}
	sb, _ := e.Sandbox.(*sandbox.Sandbox)
	if sb == nil {
		return resp
	}
	resp.PodSandboxStatus = sandboxStatus(sb, sb.Status())
	c, _ := e.Container.(*container.Container)
	listed := false
	for _, sib := range s.containers.Store().ListSandbox(sb.ID) {
		listed = listed || sib == c
		resp.ContainersStatuses = append(resp.ContainersStatuses, containerStatus(sib, sib.Status()))
	}
	if c != nil && !listed && e.Kind != lifecycle.Deleted {
		resp.ContainersStatuses = append(resp.ContainersStatuses, containerStatus(c, c.Status()))
	}
	return resp
}

func eventType(k lifecycle.Kind) runtimeapi.ContainerEventType {
	switch k {
	case lifecycle.Started:
		return runtimeapi.ContainerEventType_CONTAINER_STARTED_EVENT
	case lifecycle.Stopped:
		return runtimeapi.ContainerEventType_CONTAINER_STOPPED_EVENT
	case lifecycle.Deleted:
		return runtimeapi.ContainerEventType_CONTAINER_DELETED_EVENT
	}
	return runtimeapi.ContainerEventType_CONTAINER_CREATED_EVENT
}
