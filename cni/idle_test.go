package cni

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/containernetworking/cni/libcni"
)

// portmapEnv is a chain of the fault plugin and a stand-in for portmap,
// which logs to a control dir of its own (returned); portmapCalls reads
// its calls.
func portmapEnv(t *testing.T, keepIdle bool) (e *faultEnv, m *Manager, portmapControl string) {
	t.Helper()
	e = newFaultEnv(t)
	portmapBin := t.TempDir()
	portmapControl = t.TempDir()
	if err := os.Symlink(filepath.Join(faultPluginDir(t), "berth-fault"), filepath.Join(portmapBin, "portmap")); err != nil {
		t.Fatal(err)
	}
	e.bins = append(e.bins, portmapBin)
	conf, _ := json.Marshal(map[string]any{
		"cniVersion": "1.1.0",
		"name":       "podnet",
		"plugins": []any{
			map[string]any{"type": "berth-fault", "controlDir": e.control, "ips": []string{"10.99.0.5/24"}},
			map[string]any{"type": "portmap", "controlDir": portmapControl, "capabilities": map[string]bool{"portMappings": true}},
		},
	})
	writeFile(t, filepath.Join(e.confDir, "10-net.conflist"), string(conf))
	m, err := New(Config{ConfDir: e.confDir, BinDirs: e.bins, StateDir: e.state, KeepIdlePlugins: keepIdle})
	if err != nil {
		t.Fatal(err)
	}
	return e, m, portmapControl
}

// assertPortmapRan checks that portmap's ADD and DEL ran for sandbox id.
func assertPortmapRan(t *testing.T, control, id string) {
	t.Helper()
	calls := portmapCalls(t, control)
	for _, want := range []string{"start ADD " + id, "start DEL " + id} {
		if !strings.Contains(calls, want) {
			t.Errorf("portmap calls lack %q:\n%s", want, calls)
		}
	}
}

func portmapCalls(t *testing.T, control string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(control, "calls"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return string(b)
}

// With the skip_idle_portmap shortcut off, portmap runs for a sandbox
// without host ports too, ADD and DEL.
func TestKeepIdlePluginsRunsPortmapForEverySandbox(t *testing.T) {
	_, m, control := portmapEnv(t, true)
	ctx := context.Background()
	if _, err := m.Setup(ctx, SandboxNetwork{ID: "plain", NetNSPath: fakeNetNS, PodName: "a", PodNamespace: "ns", PodUID: "u1"}); err != nil {
		t.Fatalf("Setup: %v", err)
	}
	if err := m.Teardown(ctx, "plain"); err != nil {
		t.Fatalf("Teardown: %v", err)
	}
	assertPortmapRan(t, control, "plain")
}

func TestPortmapRunsOnlyForSandboxesWithHostPorts(t *testing.T) {
	e, m, portmapControl := portmapEnv(t, false)
	ctx := context.Background()
	// A containerPort without a hostPort maps nothing.
	if _, err := m.Setup(ctx, SandboxNetwork{ID: "plain", NetNSPath: fakeNetNS, PodName: "a", PodNamespace: "ns", PodUID: "u1",
		PortMappings: []PortMapping{{ContainerPort: 80, Protocol: "TCP"}}}); err != nil {
		t.Fatalf("Setup: %v", err)
	}
	if err := m.Teardown(ctx, "plain"); err != nil {
		t.Fatalf("Teardown: %v", err)
	}
	if got := portmapCalls(t, portmapControl); got != "" {
		t.Errorf("portmap ran for a sandbox without host ports:\n%s", got)
	}
	if e.count(t, "ADD", "plain") != 1 || e.count(t, "DEL", "plain") != 1 {
		t.Errorf("the rest of the chain ran ADD %d and DEL %d times, want once each", e.count(t, "ADD", "plain"), e.count(t, "DEL", "plain"))
	}

	if _, err := m.Setup(ctx, SandboxNetwork{ID: "web", NetNSPath: fakeNetNS, PodName: "b", PodNamespace: "ns", PodUID: "u2",
		PortMappings: []PortMapping{{HostPort: 8080, ContainerPort: 80, Protocol: "TCP"}}}); err != nil {
		t.Fatalf("Setup: %v", err)
	}
	// The chain DEL runs is the one ADD ran, even if the pod's config
	// file changes in between.
	writeFile(t, filepath.Join(e.confDir, "10-net.conflist"), e.faultConflist("podnet", "10.99.0.5/24"))
	if err := m.Teardown(ctx, "web"); err != nil {
		t.Fatalf("Teardown: %v", err)
	}
	assertPortmapRan(t, portmapControl, "web")
	b, err := os.ReadFile(filepath.Join(portmapControl, "ADD-web.json"))
	if err != nil || !strings.Contains(string(b), `"hostPort":8080`) {
		t.Errorf("portmap's ADD did not get the mapping: %s %v", b, err)
	}
}

func TestIdlePlugins(t *testing.T) {
	ports := map[string]any{"portMappings": []PortMapping{{HostPort: 80, ContainerPort: 80, Protocol: "tcp"}}}
	for _, tc := range []struct {
		name   string
		plugin string
		caps   map[string]any
		idle   bool
	}{
		{"portmap without ports", `{"type":"portmap","capabilities":{"portMappings":true}}`, map[string]any{}, true},
		{"portmap with ports", `{"type":"portmap","capabilities":{"portMappings":true}}`, ports, false},
		{"portmap that does not take the capability", `{"type":"portmap"}`, ports, true},
		{"portmap with a runtimeConfig in its file", `{"type":"portmap","runtimeConfig":{"portMappings":[]}}`, map[string]any{}, false},
		{"other plugins", `{"type":"bandwidth","capabilities":{"bandwidth":true}}`, map[string]any{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := libcni.NetworkPluginConfFromBytes([]byte(tc.plugin))
			if err != nil {
				t.Fatal(err)
			}
			if got := idle(p, tc.caps); got != tc.idle {
				t.Errorf("idle = %v, want %v", got, tc.idle)
			}
		})
	}
}

func TestAChainIsKeptWholeWhenTheIdlePluginComesFirst(t *testing.T) {
	list, err := parseChain([]byte(`{"cniVersion":"1.0.0","name":"n","plugins":[{"type":"portmap"},{"type":"bridge"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	got, err := withoutIdlePlugins(list, map[string]any{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Plugins) != 2 {
		t.Errorf("kept %d plugins, want both: portmap first is a config error its ADD reports", len(got.Plugins))
	}
}
