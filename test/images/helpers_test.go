package images

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

// imagesDir is where hack/images.sh leaves its outputs; the Makefile
// passes it as BERTH_IMAGES_DIR.
func imagesDir() string {
	if d := os.Getenv("BERTH_IMAGES_DIR"); d != "" {
		return d
	}
	return filepath.Join("..", "..", "_output", "images")
}

// testInputs returns inputs made of the cached .debs and programs built
// from the current sources. Tests that need them skip when the .debs were
// never downloaded (make images does that).
func testInputs(t *testing.T) Inputs {
	t.Helper()
	inputsOnce.Do(func() {
		debs := filepath.Join(imagesDir(), "debs")
		for _, pkg := range []string{"busybox", "libc6", "util-linux"} {
			if _, err := FindDeb(debs, pkg); err != nil {
				inputsSkip = err.Error()
				return
			}
		}
		bins, err := os.MkdirTemp("", "berth-images-test-bin-")
		if err != nil {
			inputsErr = err
			return
		}
		for name, pkg := range map[string]string{
			"berth-pause": "github.com/berth-cri/berth/cmd/berth-pause",
			"webserver":   "./cmd/webserver",
			"nnp":         "./cmd/nnp",
			"pgrep":       "./cmd/pgrep",
		} {
			cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w -buildid=", "-o", filepath.Join(bins, name), pkg)
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
			if out, err := cmd.CombinedOutput(); err != nil {
				inputsErr = &buildError{name, err, out}
				return
			}
		}
		inputs = Inputs{DebDir: debs, BinDir: bins}
	})
	if inputsSkip != "" {
		t.Skipf("no image inputs: %s", inputsSkip)
	}
	if inputsErr != nil {
		t.Fatal(inputsErr)
	}
	return inputs
}

type buildError struct {
	name string
	err  error
	out  []byte
}

func (e *buildError) Error() string {
	return "building " + e.name + ": " + e.err.Error() + "\n" + string(e.out)
}

var (
	inputsOnce sync.Once
	inputs     Inputs
	inputsSkip string
	inputsErr  error

	builtOnce sync.Once
	built     []Built
	builtErr  error
)

// testBuild builds the catalogue once for all tests.
func testBuild(t *testing.T) []Built {
	t.Helper()
	in := testInputs(t)
	builtOnce.Do(func() { built, builtErr = Build(context.Background(), in) })
	if builtErr != nil {
		t.Fatal(builtErr)
	}
	return built
}

func TestMain(m *testing.M) {
	code := m.Run()
	if inputs.BinDir != "" {
		os.RemoveAll(inputs.BinDir)
	}
	os.Exit(code)
}

// byRef finds the image published as ref.
func byRef(t *testing.T, built []Built, ref string) Built {
	t.Helper()
	for _, b := range built {
		for _, r := range b.Refs {
			if r == ref {
				return b
			}
		}
	}
	t.Fatalf("no image %s in the catalogue", ref)
	return Built{}
}

func configOf(t *testing.T, img v1.Image) *v1.ConfigFile {
	t.Helper()
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	return cf
}

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to unpack images with their owners and to enter namespaces")
	}
	for _, tool := range []string{"tar", "unshare", "chroot", "mount"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s", tool)
		}
	}
}

// unpack flattens img into a fresh directory with the host's tar, which
// keeps hard links, owners and set-user-ID bits the way a runtime's
// snapshotter does.
func unpack(t *testing.T, img v1.Image) string {
	t.Helper()
	root := t.TempDir()
	rc := mutate.Extract(img)
	defer rc.Close()
	var stderr bytes.Buffer
	cmd := exec.Command("tar", "-x", "-p", "--numeric-owner", "-C", root)
	cmd.Stdin, cmd.Stderr = rc, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("unpacking: %v: %s", err, stderr.String())
	}
	return root
}

// inContainer runs script with the image's /bin/sh as PID 1 of new mount
// and PID namespaces, chrooted into root, with the host's /dev and a
// fresh /proc: close enough to a container for what the images promise.
// extra runs first on the host side inside the new mount namespace (for
// bind mounts), with $0 set to root.
func inContainer(t *testing.T, root, extra, script string) (stdout, stderr string, err error) {
	t.Helper()
	setup := `mount --rbind /dev "$0/dev" && mount -t proc proc "$0/proc"`
	if extra != "" {
		setup += " && " + extra
	}
	cmd := exec.Command("unshare", "--mount", "--pid", "--fork", "--propagation", "private", "--",
		"/bin/sh", "-c", setup+` && exec chroot "$0" /bin/sh -c "$1"`, root, script)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	return out.String(), errb.String(), err
}
