package cni

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// The fault plugin is built once per test binary into buildDir.
var (
	buildOnce sync.Once
	buildDir  string
	buildErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		_ = os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// faultPluginDir returns a directory holding the berth-fault plugin.
func faultPluginDir(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		goTool, err := exec.LookPath("go")
		if err != nil {
			buildErr = fmt.Errorf("building the fault plugin needs go on PATH: %w", err)
			return
		}
		buildDir, buildErr = os.MkdirTemp("", "berth-faultplugin-")
		if buildErr != nil {
			return
		}
		out, err := exec.Command(goTool, "build", "-o", filepath.Join(buildDir, "berth-fault"),
			"github.com/berth-cri/berth/cni/internal/faultplugin").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("build fault plugin: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildDir
}

// fakeNetNS is the namespace path tests give the fault plugin, which never
// enters it. It does not exist, as after a pod's namespace was removed.
const fakeNetNS = "/nonexistent/berth-test-netns"

// faultEnv is a conf dir, a control dir and a state dir for one test.
type faultEnv struct {
	confDir, control, state string
	bins                    []string
}

func newFaultEnv(t *testing.T) *faultEnv {
	t.Helper()
	root := t.TempDir()
	e := &faultEnv{
		confDir: filepath.Join(root, "net.d"),
		control: filepath.Join(root, "control"),
		state:   filepath.Join(root, "state"),
		bins:    []string{faultPluginDir(t)},
	}
	for _, d := range []string{e.confDir, e.control} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

func (e *faultEnv) manager(t *testing.T) *Manager {
	t.Helper()
	m, err := New(Config{ConfDir: e.confDir, BinDirs: e.bins, StateDir: e.state})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// faultConflist is a chain of just the fault plugin, declaring every
// capability Berth passes.
func (e *faultEnv) faultConflist(name string, ips ...string) string {
	b, _ := json.Marshal(map[string]any{
		"cniVersion": "1.1.0",
		"name":       name,
		"plugins": []any{map[string]any{
			"type":       "berth-fault",
			"controlDir": e.control,
			"ips":        ips,
			"capabilities": map[string]bool{
				"portMappings": true, "dns": true, "bandwidth": true, "ipRanges": true,
			},
		}},
	})
	return string(b)
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// inject makes the fault plugin fail (or sleep) on verb until the returned
// func is called.
func (e *faultEnv) inject(t *testing.T, what, verb, content string) func() {
	t.Helper()
	p := filepath.Join(e.control, what+"-"+verb)
	writeFile(t, p, content)
	return func() { _ = os.Remove(p) }
}

// calls returns the fault plugin's call log, "start ADD id" lines and all.
func (e *faultEnv) calls(t *testing.T) []string {
	t.Helper()
	f, err := os.Open(filepath.Join(e.control, "calls"))
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	return lines
}

// count returns how many calls of verb for id started.
func (e *faultEnv) count(t *testing.T, verb, id string) int {
	n := 0
	for _, l := range e.calls(t) {
		if strings.TrimSpace(l) == strings.TrimSpace("start "+verb+" "+id) {
			n++
		}
	}
	return n
}

// seenCall is what the fault plugin saved about its last call of a verb.
type seenCall struct {
	Args   string `json:"args"`
	NetNS  string `json:"netns"`
	IfName string `json:"ifName"`
	Config struct {
		Name          string          `json:"name"`
		RuntimeConfig json.RawMessage `json:"runtimeConfig"`
		Valid         json.RawMessage `json:"cni.dev/valid-attachments"`
		PrevResult    json.RawMessage `json:"prevResult"`
	} `json:"config"`
}

func (e *faultEnv) seen(t *testing.T, verb, id string) seenCall {
	t.Helper()
	var s seenCall
	b, err := os.ReadFile(filepath.Join(e.control, verb+"-"+id+".json"))
	if err != nil {
		t.Fatalf("the plugin saw no %s for %q: %v", verb, id, err)
	}
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	return s
}
