package cni

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
)

func TestReadyExplainsWhyTheNetworkIsNotReady(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files map[string]string // file name -> content; "{{fault}}" is a valid fault chain
		want  []string          // substrings of Ready's error; none means ready
	}{
		{
			name: "empty dir",
			want: []string{"no network config found in {{dir}}"},
		},
		{
			name:  "only files with other extensions",
			files: map[string]string{"README": "hi", "10-net.conflist.bak": "{{fault}}"},
			want:  []string{"no network config found in {{dir}}"},
		},
		{
			name:  "broken json",
			files: map[string]string{"10-broken.conflist": "{not json"},
			want:  []string{"no valid network config found in {{dir}}", "10-broken.conflist"},
		},
		{
			name:  "plugin binary missing",
			files: map[string]string{"10-net.conflist": `{"cniVersion":"1.0.0","name":"n","plugins":[{"type":"no-such-plugin"}]}`},
			want:  []string{`plugin "no-such-plugin" not found`, "{{dir}}/10-net.conflist"},
		},
		{
			name:  "a broken file does not hide a good one after it",
			files: map[string]string{"10-broken.conflist": "{", "20-good.conflist": "{{fault}}"},
		},
		{
			name:  "single plugin .conf",
			files: map[string]string{"10-one.conf": `{"cniVersion":"1.0.0","name":"one","type":"berth-fault"}`},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newFaultEnv(t)
			for name, content := range tc.files {
				content = strings.ReplaceAll(content, "{{fault}}", e.faultConflist("good"))
				writeFile(t, filepath.Join(e.confDir, name), content)
			}
			err := e.manager(t).Ready()
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("Ready = %v, want ready", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Ready = nil, want not ready")
			}
			if !errdefs.IsFailedPrecondition(err) {
				t.Errorf("Ready error %v is not FailedPrecondition", err)
			}
			for _, w := range tc.want {
				w = strings.ReplaceAll(w, "{{dir}}", e.confDir)
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Ready error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestTheFirstConfigInLexicalOrderIsUsed(t *testing.T) {
	e := newFaultEnv(t)
	writeFile(t, filepath.Join(e.confDir, "20-second.conflist"), e.faultConflist("second", "10.99.0.2/24"))
	writeFile(t, filepath.Join(e.confDir, "10-first.conflist"), e.faultConflist("first", "10.99.0.1/24"))
	writeFile(t, filepath.Join(e.confDir, "05-other.json"), "{") // broken, skipped

	res, err := e.manager(t).Setup(context.Background(), SandboxNetwork{ID: "sb1", NetNSPath: fakeNetNS})
	if err != nil {
		t.Fatal(err)
	}
	if res.Network != "first" {
		t.Errorf("Setup used network %q, want %q (10-first sorts before 20-second)", res.Network, "first")
	}
}

// The node becomes Ready when a config appears, without restarting berthd
// (containerd#8419), and follows edits and removals.
func TestReadyFollowsTheConfDir(t *testing.T) {
	e := newFaultEnv(t)
	m := e.manager(t)
	ctx := context.Background()
	conf := filepath.Join(e.confDir, "10-net.conflist")

	if err := m.Ready(); err == nil {
		t.Fatal("ready with an empty conf dir")
	}

	writeFile(t, conf, e.faultConflist("v1", "10.99.0.1/24"))
	if err := m.Ready(); err != nil {
		t.Fatalf("Ready after a config appeared: %v", err)
	}
	res, err := m.Setup(ctx, SandboxNetwork{ID: "a", NetNSPath: fakeNetNS})
	if err != nil || res.Network != "v1" {
		t.Fatalf("Setup = %v, %v; want network v1", res, err)
	}

	// Same size, rewritten in place: only the content tells.
	writeFile(t, conf, e.faultConflist("v2", "10.99.0.1/24"))
	res, err = m.Setup(ctx, SandboxNetwork{ID: "b", NetNSPath: fakeNetNS})
	if err != nil || res.Network != "v2" {
		t.Fatalf("Setup after an edit = %v, %v; want network v2", res, err)
	}

	if err := os.Remove(conf); err != nil {
		t.Fatal(err)
	}
	if err := m.Ready(); err == nil || !strings.Contains(err.Error(), "no network config found") {
		t.Fatalf("Ready after the config was removed = %v", err)
	}
	if _, err := m.Setup(ctx, SandboxNetwork{ID: "c", NetNSPath: fakeNetNS}); !errdefs.IsFailedPrecondition(err) {
		t.Fatalf("Setup with no config = %v, want FailedPrecondition", err)
	}
	if n := e.count(t, "ADD", "c"); n != 0 {
		t.Errorf("a plugin ran %d times for a Setup without config", n)
	}
}

// Plugins loaded from <confdir>/<network>/*.conf are part of what ADD ran,
// so they are inlined into the record DEL uses.
func TestSideLoadedPluginsAreInlined(t *testing.T) {
	e := newFaultEnv(t)
	writeFile(t, filepath.Join(e.confDir, "10-net.conflist"), `{"cniVersion":"1.0.0","name":"side"}`)
	if err := os.Mkdir(filepath.Join(e.confDir, "side"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(e.confDir, "side", "10-fault.conf"),
		`{"type":"berth-fault","controlDir":"`+e.control+`","ips":["10.99.0.1/24"]}`)
	m := e.manager(t)
	ctx := context.Background()
	if _, err := m.Setup(ctx, SandboxNetwork{ID: "a", NetNSPath: fakeNetNS}); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(e.confDir, "side")); err != nil {
		t.Fatal(err)
	}
	if err := m.Teardown(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if n := e.count(t, "DEL", "a"); n != 1 {
		t.Errorf("the side-loaded plugin got %d DELs after its file was removed, want 1", n)
	}
}
