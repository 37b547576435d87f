package integration

import (
	"context"
	"encoding/json"
	"syscall"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/berth-cri/berth/test/harness"
)

// subscribe opens a GetContainerEvents stream and forwards its events.
func subscribe(t *testing.T, d *harness.Daemon) <-chan *runtimeapi.ContainerEventResponse {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	stream, err := d.Runtime.GetContainerEvents(ctx, &runtimeapi.GetEventsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	events := make(chan *runtimeapi.ContainerEventResponse, 256)
	go func() {
		defer close(events)
		for {
			ev, err := stream.Recv()
			if err != nil {
				return
			}
			events <- ev
		}
	}()
	return events
}

// collect reads events about the given IDs until it has n of them.
func collect(t *testing.T, events <-chan *runtimeapi.ContainerEventResponse, n int, ids ...string) []*runtimeapi.ContainerEventResponse {
	t.Helper()
	var got []*runtimeapi.ContainerEventResponse
	timeout := time.After(30 * time.Second)
	for len(got) < n {
		select {
		case ev, ok := <-events:
			if !ok {
				t.Fatalf("the event stream ended after %s", describeEvents(got))
			}
			for _, id := range ids {
				if ev.ContainerId == id {
					got = append(got, ev)
				}
			}
		case <-timeout:
			t.Fatalf("events so far %s; want %d", describeEvents(got), n)
		}
	}
	return got
}

func describeEvents(evs []*runtimeapi.ContainerEventResponse) string {
	s := "["
	for i, ev := range evs {
		if i > 0 {
			s += " "
		}
		s += ev.ContainerId[:8] + ":" + ev.ContainerEventType.String()
	}
	return s + "]"
}

// A pod's whole life arrives in order on every subscriber, each event with
// the statuses kubelet's evented PLEG caches: the container's exit code on
// STOPPED even though the container was removed right after, and the pod's
// status on the pod's own DELETED, which kubelet needs to drop its cache.
func TestContainerEventsFollowAPodsLife(t *testing.T) {
	d, image := startWithBusybox(t)
	subscribers := []<-chan *runtimeapi.ContainerEventResponse{subscribe(t, d), subscribe(t, d)}
	time.Sleep(200 * time.Millisecond) // subscribed before anything happens

	podID, podCfg := runPod(t, d)
	id := createContainer(t, d, podID, podCfg, ctrConfig(image, withShell("exit 3")))
	startContainer(t, d, id)
	waitExited(t, d, id, 20*time.Second)
	ctx := ctxBG(t)
	if _, err := d.Runtime.RemoveContainer(ctx, &runtimeapi.RemoveContainerRequest{ContainerId: id}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Runtime.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: podID}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Runtime.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: podID}); err != nil {
		t.Fatal(err)
	}

	type want struct {
		id  string
		typ runtimeapi.ContainerEventType
	}
	wants := []want{
		{podID, runtimeapi.ContainerEventType_CONTAINER_CREATED_EVENT},
		{podID, runtimeapi.ContainerEventType_CONTAINER_STARTED_EVENT},
		{id, runtimeapi.ContainerEventType_CONTAINER_CREATED_EVENT},
		{id, runtimeapi.ContainerEventType_CONTAINER_STARTED_EVENT},
		{id, runtimeapi.ContainerEventType_CONTAINER_STOPPED_EVENT},
		{id, runtimeapi.ContainerEventType_CONTAINER_DELETED_EVENT},
		{podID, runtimeapi.ContainerEventType_CONTAINER_STOPPED_EVENT},
		{podID, runtimeapi.ContainerEventType_CONTAINER_DELETED_EVENT},
	}
	for n, events := range subscribers {
		got := collect(t, events, len(wants), podID, id)
		for i, ev := range got {
			if ev.ContainerId != wants[i].id || ev.ContainerEventType != wants[i].typ {
				t.Fatalf("subscriber %d: events %s, want event %d to be %s for %s", n, describeEvents(got), i, wants[i].typ, wants[i].id[:8])
			}
			if ev.CreatedAt == 0 || ev.PodSandboxStatus.GetId() != podID || ev.PodSandboxStatus.GetMetadata().GetUid() == "" {
				t.Fatalf("subscriber %d: event %d (%s) has time %d and pod status %v; want a time and the pod with its UID", n, i, ev.ContainerEventType, ev.CreatedAt, ev.PodSandboxStatus)
			}
			if i > 0 && ev.CreatedAt < got[i-1].CreatedAt {
				t.Errorf("subscriber %d: event %d is older than the one before it", n, i)
			}
		}
		if st := got[1].PodSandboxStatus; st.State != runtimeapi.PodSandboxState_SANDBOX_READY || st.GetNetwork().GetIp() == "" {
			t.Errorf("the pod's STARTED event shows it %v with IP %q, want READY with an IP", st.State, st.GetNetwork().GetIp())
		}
		if st := got[3].ContainersStatuses; len(st) != 1 || st[0].State == runtimeapi.ContainerState_CONTAINER_CREATED {
			t.Errorf("the container's STARTED event shows %v, want the container past CREATED", st)
		}
		if st := got[4].ContainersStatuses; len(st) != 1 || st[0].Id != id || st[0].State != runtimeapi.ContainerState_CONTAINER_EXITED || st[0].ExitCode != 3 {
			t.Errorf("the STOPPED event shows %v, want the container EXITED with code 3", st)
		}
		if st := got[5].ContainersStatuses; len(st) != 0 {
			t.Errorf("the container's DELETED event still lists containers %v", st)
		}
		if st := got[6].PodSandboxStatus; st.State != runtimeapi.PodSandboxState_SANDBOX_NOTREADY {
			t.Errorf("the pod's STOPPED event shows it %v, want NOTREADY", st.State)
		}
	}
}

// A pod whose pause process dies is announced as stopped without anyone
// calling StopPodSandbox, so kubelet's evented PLEG learns of it.
func TestContainerEventsAnnounceAPauseThatDied(t *testing.T) {
	d := harness.Start(t)
	events := subscribe(t, d)
	time.Sleep(200 * time.Millisecond)
	podID, _ := runPod(t, d)
	collect(t, events, 2, podID) // created, started
	st, err := d.Runtime.PodSandboxStatus(ctxBG(t), &runtimeapi.PodSandboxStatusRequest{PodSandboxId: podID, Verbose: true})
	if err != nil {
		t.Fatal(err)
	}
	killPause(t, st)
	got := collect(t, events, 1, podID)
	if got[0].ContainerEventType != runtimeapi.ContainerEventType_CONTAINER_STOPPED_EVENT || got[0].PodSandboxStatus.GetState() != runtimeapi.PodSandboxState_SANDBOX_NOTREADY {
		t.Fatalf("after the pause process was killed: %s with pod state %v, want STOPPED and NOTREADY", got[0].ContainerEventType, got[0].PodSandboxStatus.GetState())
	}
}

// killPause kills the pod's pause process (one this test's berthd started).
func killPause(t *testing.T, st *runtimeapi.PodSandboxStatusResponse) {
	t.Helper()
	var info struct {
		Pid int `json:"pid"`
	}
	if err := json.Unmarshal([]byte(st.Info["info"]), &info); err != nil || info.Pid == 0 {
		t.Fatalf("no pause pid in %q: %v", st.Info["info"], err)
	}
	if err := syscall.Kill(info.Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
}
