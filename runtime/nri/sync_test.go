package nri

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/containerd/nri/pkg/adaptation"
	"github.com/containerd/nri/pkg/api"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/berth-cri/berth/container"
	"github.com/berth-cri/berth/sandbox"
)

type storeOnly struct{ s *container.Store }

func (c storeOnly) Store() *container.Store                         { return c.s }
func (storeOnly) Stop(context.Context, string, time.Duration) error { return nil }
func (storeOnly) UpdateResourcesForNRI(context.Context, string, *runtimeapi.LinuxContainerResources) error {
	return nil
}

func newSyncAPI(t *testing.T, pluginPath string) *API {
	t.Helper()
	a := &API{cfg: Config{PluginPath: pluginPath}, log: slog.New(slog.DiscardHandler), told: map[string]lifecycle{}}
	a.Attach(sandbox.NewStore(), storeOnly{container.NewStore()})
	return a
}

// syncCB records what the library's callback was given.
func syncCB(called *int) adaptation.SyncCB {
	return func(context.Context, []*api.PodSandbox, []*api.Container) ([]*api.ContainerUpdate, error) {
		*called++
		return nil, nil
	}
}

// A node without NRI plugins (the default): the library's start-up
// synchronisation is of none, and the container hooks must then not read
// every container's spec from containerd under one lock. A plugin that
// connects later is synchronised, and from then on told everything.
func TestStartUpSyncOfNoPluginLeavesTheHooksIdleUntilOneConnects(t *testing.T) {
	for _, tc := range []struct {
		name       string
		pluginPath func(t *testing.T) string
		wantSynced bool
	}{
		{"missing plugin dir", func(t *testing.T) string { return filepath.Join(t.TempDir(), "none") }, false},
		{"empty plugin dir", func(t *testing.T) string { return t.TempDir() }, false},
		{"no plugin dir configured", func(*testing.T) string { return "" }, false},
		{"a plugin installed", func(t *testing.T) string {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "10-logger"), []byte("#!/bin/sh\n"), 0o755); err != nil {
				t.Fatal(err)
			}
			return dir
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newSyncAPI(t, tc.pluginPath(t))
			called := 0
			if err := a.synchronize(context.Background(), syncCB(&called)); err != nil {
				t.Fatal(err)
			}
			if called != 1 {
				t.Fatalf("the library's callback ran %d times, want once", called)
			}
			if got := a.synced.Load(); got != tc.wantSynced {
				t.Fatalf("after the start-up sync, synced = %v, want %v", got, tc.wantSynced)
			}
			// A plugin connecting over the socket later.
			if err := a.synchronize(context.Background(), syncCB(&called)); err != nil {
				t.Fatal(err)
			}
			if !a.synced.Load() {
				t.Fatal("a plugin that connected was synchronised, but the hooks stay idle")
			}
		})
	}
}
