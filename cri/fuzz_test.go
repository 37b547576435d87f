package cri

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/proto"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/berth-cri/berth/container"
	"github.com/berth-cri/berth/sandbox"
)

// listService holds two sandboxes and three containers for List filters.
func listService() *Service {
	sandboxes := sandbox.NewManager(sandbox.Config{})
	containers := container.NewManager(container.Config{})
	for i, id := range []string{"aaaa1111", "bbbb2222"} {
		sb := &sandbox.Sandbox{Metadata: sandbox.Metadata{ID: id, CreatedAt: time.Unix(int64(i), 0),
			Config: &runtimeapi.PodSandboxConfig{Metadata: &runtimeapi.PodSandboxMetadata{Name: id}, Labels: map[string]string{"app": id[:4], "tier": "web"}}}}
		if err := sb.Update(func(s sandbox.Status) (sandbox.Status, error) {
			s.State = runtimeapi.PodSandboxState(i % 2)
			return s, nil
		}); err != nil {
			panic(err)
		}
		sandboxes.Store().Add(id, sb)
	}
	for i, id := range []string{"cccc1111", "dddd2222", "eeee3333"} {
		c := &container.Container{Metadata: container.Metadata{ID: id, SandboxID: []string{"aaaa1111", "bbbb2222"}[i%2], CreatedAt: time.Unix(int64(i), 0),
			Config: &runtimeapi.ContainerConfig{Metadata: &runtimeapi.ContainerMetadata{Name: id}, Labels: map[string]string{"app": id[:4]}}}}
		if err := c.Update(func(s container.Status) (container.Status, error) {
			s.State = runtimeapi.ContainerState(i % 4)
			return s, nil
		}); err != nil {
			panic(err)
		}
		containers.Store().Add(id, c)
	}
	return New(Options{Sandboxes: sandboxes, Containers: containers,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Registerer: prometheus.NewRegistry()})
}

// FuzzListFilters feeds arbitrary ListPodSandbox and ListContainers
// filters. Nothing may panic, and every item listed matches the filter.
func FuzzListFilters(f *testing.F) {
	for _, pair := range [][2]proto.Message{
		{&runtimeapi.PodSandboxFilter{Id: "aaaa", LabelSelector: map[string]string{"tier": "web"}}, &runtimeapi.ContainerFilter{PodSandboxId: "bbbb"}},
		{&runtimeapi.PodSandboxFilter{State: &runtimeapi.PodSandboxStateValue{State: runtimeapi.PodSandboxState_SANDBOX_NOTREADY}}, &runtimeapi.ContainerFilter{Id: "c", State: &runtimeapi.ContainerStateValue{}}},
	} {
		a, _ := proto.Marshal(pair[0])
		b, _ := proto.Marshal(pair[1])
		f.Add(a, b)
	}
	s := listService()
	f.Fuzz(func(t *testing.T, sandboxFilter, containerFilter []byte) {
		sf, cf := &runtimeapi.PodSandboxFilter{}, &runtimeapi.ContainerFilter{}
		if proto.Unmarshal(sandboxFilter, sf) != nil || proto.Unmarshal(containerFilter, cf) != nil {
			return
		}
		for _, sb := range s.listSandboxes(sf) {
			if sf.State != nil && sb.State != sf.State.State || !labelsMatch(sb.Labels, sf.LabelSelector) {
				t.Fatalf("sandbox %s listed for filter %v", sb.Id, sf)
			}
		}
		for _, c := range s.listContainers(cf) {
			if cf.State != nil && c.State != cf.State.State || !labelsMatch(c.Labels, cf.LabelSelector) {
				t.Fatalf("container %s listed for filter %v", c.Id, cf)
			}
		}
	})
}
