package images

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"testing"
)

var (
	e2eNodeOnce  sync.Once
	e2eNodeBuilt []Built
	e2eNodeSkip  string
	e2eNodeErr   error
)

// e2eNodeBuild builds the node e2e set from what hack/e2e-node-images.sh
// prepared (its .debs, and agnhost with its certificate in its bin dir),
// or skips when that never ran.
func e2eNodeBuild(t *testing.T) []Built {
	t.Helper()
	e2eNodeOnce.Do(func() {
		dir := os.Getenv("BERTH_E2E_NODE_IMAGES_DIR")
		if dir == "" {
			dir = filepath.Join("..", "..", "_output", "e2e-node", "images")
		}
		in := Inputs{DebDir: filepath.Join(dir, "debs"), BinDir: filepath.Join(dir, "bin")}
		for _, pkg := range E2ENodeDebs {
			if _, err := FindDeb(in.DebDir, pkg); err != nil {
				e2eNodeSkip = err.Error()
				return
			}
		}
		for _, name := range append(append(append([]string{}, Programs...), E2ENodePrograms...), E2ENodeFiles...) {
			if _, err := os.Stat(filepath.Join(in.BinDir, name)); err != nil {
				e2eNodeSkip = err.Error() + " (hack/e2e-node-images.sh prepares it)"
				return
			}
		}
		e2eNodeBuilt, e2eNodeErr = BuildSet(context.Background(), in, E2ENodeCatalog(in.arch()))
	})
	if e2eNodeSkip != "" {
		t.Skip(e2eNodeSkip)
	}
	if e2eNodeErr != nil {
		t.Fatal(e2eNodeErr)
	}
	return e2eNodeBuilt
}

// TestE2ENodeCatalogNames: the names are those of the suite's image
// manifest, and no name is claimed twice.
func TestE2ENodeCatalogNames(t *testing.T) {
	cat := E2ENodeCatalog("amd64")
	if err := checkRefs(cat); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"registry.k8s.io/pause:3.10.2",
		"registry.k8s.io/e2e-test-images/busybox:1.37.0-2",
		"registry.k8s.io/e2e-test-images/agnhost:2.66.1",
		"registry.k8s.io/e2e-test-images/agnhost:2.55",
		"registry.k8s.io/e2e-test-images/nginx:1.27.0-2",
		"registry.k8s.io/e2e-test-images/nonewprivs:1.4",
		"registry.k8s.io/e2e-test-images/nonroot:1.5",
		"registry.k8s.io/e2e-test-images/glibc-dns-testing:2.1.1",
	}
	have := map[string]bool{}
	for _, c := range cat {
		for _, r := range c.Refs {
			have[r] = true
		}
	}
	for _, r := range want {
		if !have[r] {
			t.Errorf("the node e2e set lacks %s", r)
		}
	}
}

// TestAgnhostImages: the two agnhost tags are distinct images (the image
// update specs pull one after the other and compare IDs), and both run
// agnhost as upstream's do.
func TestAgnhostImages(t *testing.T) {
	built := e2eNodeBuild(t)
	cur := byRef(t, built, e2eImages+"agnhost:2.66.1").Img
	prev := byRef(t, built, e2eImages+"agnhost:2.55").Img
	dc, err := cur.Digest()
	if err != nil {
		t.Fatal(err)
	}
	dp, err := prev.Digest()
	if err != nil {
		t.Fatal(err)
	}
	if dc == dp {
		t.Fatalf("agnhost 2.66.1 and 2.55 share the digest %s", dc)
	}
	cfg := configOf(t, cur).Config
	if len(cfg.Entrypoint) != 1 || cfg.Entrypoint[0] != "/agnhost" || len(cfg.Cmd) != 1 || cfg.Cmd[0] != "pause" {
		t.Fatalf("entrypoint %q cmd %q, want [/agnhost] [pause]", cfg.Entrypoint, cfg.Cmd)
	}
	if u := configOf(t, byRef(t, built, e2eImages+"nonroot:1.5").Img).Config.User; u != "1234" {
		t.Fatalf("nonroot's user is %q, want 1234", u)
	}

	needRoot(t)
	// The container lifecycle specs stamp their logs with this line.
	bb := unpack(t, byRef(t, built, e2eImages+"busybox:1.37.0-2").Img)
	stdout, stderr, err := inContainer(t, bb, "", `date -u +%FT$(nmeter -d0 '%3t' | head -n1)Z`)
	if err != nil || !regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\n$`).MatchString(stdout) {
		t.Errorf("busybox time stamp: stdout %q stderr %q err %v", stdout, stderr, err)
	}
	root := unpack(t, cur)
	for _, tc := range []struct{ script, want string }{
		// containers.go runs /agnhost-2 entrypoint-tester and reads argv back.
		{"/agnhost-2 entrypoint-tester override arguments", "[/agnhost-2 entrypoint-tester override arguments]\n"},
		{"/bin/bash -c 'echo bash ok'", "bash ok\n"},
		// The exec lifecycle hooks call curl; nothing listens on port 1.
		{"curl http://127.0.0.1:1/ 2>/dev/null; echo curl exit $?", "curl exit 7\n"},
		// The sidecar specs run busybox's time stamp line in agnhost too.
		{"nmeter -d-1 '%t' | wc -c", "9\n"},
		{"id -G user-defined-in-image", "1000 50000\n"},
		{"test -d /uploads && test -s /localhost.crt && test -s /localhost.key && echo files ok", "files ok\n"},
	} {
		stdout, stderr, err := inContainer(t, root, "", tc.script)
		if err != nil || stdout != tc.want {
			t.Errorf("%s: stdout %q stderr %q err %v, want %q", tc.script, stdout, stderr, err, tc.want)
		}
	}
}
