package layers

import (
	"bufio"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const (
	module = "github.com/berth-cri/berth"
	root   = "../.."
	drawn  = root + "/docs/architecture.md"
)

// layers are the daemon module's packages, lowest first, as
// docs/architecture.md draws them. A package imports only from layers
// below its own: nothing below knows of what sits above it.
var layers = []struct {
	name     string
	packages []string
}{
	{"leaves", []string{
		"internal/beneath", "internal/cgroup", "internal/config", "internal/guard", "internal/host",
		"internal/idindex", "internal/layers", "internal/lifecycle", "internal/procsig", "internal/selinux",
		"internal/task", "internal/unixsock", "internal/version", "sandbox/netns", "cni/internal/faultplugin",
	}},
	{"mechanisms", []string{
		"cni", "portmap", "conntrack", "seccomp", "apparmor", "images",
		"internal/handlers", "internal/checkpoint", "cmd/berthd/supervisor", "deploy",
	}},
	{"pods", []string{"sandbox"}},
	{"containers", []string{"container"}},
	{"services", []string{"runtime/stats", "runtime/streaming", "runtime/nri"}},
	{"edge", []string{"cri"}},
	{"daemon", []string{"cmd/berthd/app", "cmd/berth-pause"}},
	{"main", []string{"cmd/berthd"}},
}

func layerOf() map[string]int {
	m := map[string]int{}
	for i, l := range layers {
		for _, p := range l.packages {
			m[p] = i
		}
	}
	return m
}

// imports lists, for each package directory of the daemon's module, the
// module's packages its files (tests included) import.
func imports(t *testing.T) map[string][]string {
	t.Helper()
	fset := token.NewFileSet()
	out := map[string][]string{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if path != root && (strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || name == "testdata" || fileExists(filepath.Join(path, "go.mod"))) {
				return filepath.SkipDir // test/ is a module of its own
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, filepath.Dir(path))
		rel = filepath.ToSlash(rel)
		if _, ok := out[rel]; !ok {
			out[rel] = nil
		}
		for _, spec := range f.Imports {
			p, _ := strconv.Unquote(spec.Path.Value)
			if after, ok := strings.CutPrefix(p, module+"/"); ok {
				out[rel] = append(out[rel], after)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// TestImportsFollowTheLayers fails on an import against the layers: a
// package importing one of its own layer or above (internal/ never
// importing cri, container or sandbox, save the NRI adaptor; the node
// mechanisms none of cri, container, sandbox, runtime/stats...).
func TestImportsFollowTheLayers(t *testing.T) {
	layer := layerOf()
	for pkg, imported := range imports(t) {
		l, ok := layer[pkg]
		if !ok {
			t.Errorf("package %s has no layer: give it one in layers_test.go and a line in %s", pkg, drawn)
			continue
		}
		for _, dep := range imported {
			d, ok := layer[dep]
			switch {
			case !ok:
				t.Errorf("%s imports %s, which has no layer", pkg, dep)
			case d >= l:
				t.Errorf("%s (%s) imports %s (%s): a package imports only from the layers below its own", pkg, layers[l].name, dep, layers[d].name)
			}
		}
	}
}

// TestArchitectureDrawsEveryPackage keeps the package tree in
// docs/architecture.md true: every package of the module is drawn, and
// every path drawn exists.
func TestArchitectureDrawsEveryPackage(t *testing.T) {
	paths := drawnPaths(t)
	if len(paths) == 0 {
		t.Fatalf("%s draws no package tree", drawn)
	}
	for p := range paths {
		if !fileExists(filepath.Join(root, p)) {
			t.Errorf("%s draws %s, which does not exist", drawn, p)
		}
	}
	for pkg := range imports(t) {
		if !paths[pkg] {
			t.Errorf("%s does not draw package %s", drawn, pkg)
		}
	}
}

// drawnPaths reads the tree in the first ```text block after the
// "## Packages" heading: one directory a line, two spaces of indent a
// level, the name ending in "/" and followed by what it owns.
func drawnPaths(t *testing.T) map[string]bool {
	t.Helper()
	f, err := os.Open(drawn)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	paths := map[string]bool{}
	var stack []string
	section, inTree := false, false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "## "):
			section = line == "## Packages"
		case section && line == "```text":
			inTree = true
		case inTree && line == "```":
			return paths
		case inTree:
			trimmed := strings.TrimLeft(line, " ")
			depth := (len(line) - len(trimmed)) / 2
			name, _, _ := strings.Cut(trimmed, " ")
			if !strings.HasSuffix(name, "/") || depth > len(stack) {
				t.Fatalf("%s: tree line %q is not \"<2 spaces a level><dir>/ <what it owns>\"", drawn, line)
			}
			stack = append(stack[:depth], strings.TrimSuffix(name, "/"))
			paths[strings.Join(stack, "/")] = true
		}
	}
	return paths
}

// testOnlyModules are what only tests need; the test module (test/) holds
// them, so the daemon never links them.
var testOnlyModules = []string{"github.com/google/go-containerregistry", "github.com/docker/cli", "github.com/creack/pty"}

// TestDaemonModuleNeedsNoTestOnlyModule runs `go mod why -m` from the
// module root: every test-only module must be one the main module does not
// need.
func TestDaemonModuleNeedsNoTestOnlyModule(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to read the module graph: %v", err)
	}
	cmd := exec.Command(goBin, append([]string{"mod", "why", "-m"}, testOnlyModules...)...)
	cmd.Dir = root
	// The answer is on stdout; stderr has the go command's progress, such
	// as "go: downloading" on a cold module cache.
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go mod why: %v\n%s%s", err, out, stderr.String())
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if line != "" && !strings.HasPrefix(line, "#") && !strings.HasPrefix(line, "(main module does not need") {
			t.Errorf("the daemon's module needs a test-only module:\n%s", out)
			return
		}
	}
}
