package integration

import (
	"context"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

func TestContainerEventsCarrySettledStatuses(t *testing.T) {
	d, image := startWithBusybox(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	stream, err := d.Runtime.GetContainerEvents(ctx, &runtimeapi.GetEventsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	events := make(chan *runtimeapi.ContainerEventResponse, 64)
	go func() {
		for {
			ev, err := stream.Recv()
			if err != nil {
				close(events)
				return
			}
			events <- ev
		}
	}()
	time.Sleep(200 * time.Millisecond) // subscribed before anything happens

	podID, podCfg := runPod(t, d)
	id := createContainer(t, d, podID, podCfg, ctrConfig(image, withShell("exit 3")))
	startContainer(t, d, id)
	waitExited(t, d, id, 20*time.Second)
	if _, err := d.Runtime.RemoveContainer(ctxBG(t), &runtimeapi.RemoveContainerRequest{ContainerId: id}); err != nil {
		t.Fatal(err)
	}

	want := []runtimeapi.ContainerEventType{
		runtimeapi.ContainerEventType_CONTAINER_CREATED_EVENT,
		runtimeapi.ContainerEventType_CONTAINER_STARTED_EVENT,
		runtimeapi.ContainerEventType_CONTAINER_STOPPED_EVENT,
		runtimeapi.ContainerEventType_CONTAINER_DELETED_EVENT,
	}
	var got []*runtimeapi.ContainerEventResponse
	timeout := time.After(30 * time.Second)
	for len(got) < len(want) {
		select {
		case ev, ok := <-events:
			if !ok {
				t.Fatalf("the event stream ended after %v", got)
			}
			if ev.ContainerId == podID {
				t.Fatalf("an event for the pause container: %v", ev)
			}
			if ev.ContainerId == id {
				got = append(got, ev)
			}
		case <-timeout:
			t.Fatalf("events so far %v, want %v", got, want)
		}
	}
	for i, ev := range got {
		if ev.ContainerEventType != want[i] {
			t.Fatalf("event %d is %v, want %v", i, ev.ContainerEventType, want[i])
		}
		if ev.CreatedAt == 0 {
			t.Errorf("event %v has no time", ev.ContainerEventType)
		}
	}
	stopped := got[2]
	if stopped.PodSandboxStatus.GetId() != podID || len(stopped.ContainersStatuses) != 1 {
		t.Fatalf("stopped event statuses: pod %v containers %v", stopped.PodSandboxStatus, stopped.ContainersStatuses)
	}
	if st := stopped.ContainersStatuses[0]; st.State != runtimeapi.ContainerState_CONTAINER_EXITED || st.ExitCode != 3 {
		t.Fatalf("the stopped event says the container is %v with exit code %d, want EXITED with 3", st.State, st.ExitCode)
	}
	if st := got[1].ContainersStatuses; len(st) != 1 || st[0].State == runtimeapi.ContainerState_CONTAINER_CREATED {
		t.Fatalf("the started event shows %v, want the container past CREATED", st)
	}
	if got[3].PodSandboxStatus.GetId() != podID || len(got[3].ContainersStatuses) != 0 {
		t.Fatalf("deleted event: pod %v, containers %v; want the pod and no containers", got[3].PodSandboxStatus, got[3].ContainersStatuses)
	}
}
