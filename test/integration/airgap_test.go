package integration

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/containerd/containerd/v2/core/leases"
	"github.com/containerd/errdefs"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/opencontainers/go-digest"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/berth-cri/berth/test/harness"
	"github.com/berth-cri/berth/test/images"
)

// Images reach an air-gapped node as archives: loaded out of band with
// ctr, or with berthd images import (docs/airgap.md). Both must be usable
// by pods at once, and removals seen at once, containerd restarts or not.

// layoutImage is the test image ref from the layout `make images` built.
func layoutImage(t *testing.T, ref string) v1.Image {
	t.Helper()
	idx, err := layout.ImageIndexFromPath(filepath.Join(harness.ImagesDir(), "layout"))
	if err != nil {
		t.Fatalf("the test images are not built (run make images): %v", err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	for _, desc := range im.Manifests {
		if desc.Annotations[images.AnnotationImageName] == ref {
			img, err := idx.Image(desc.Digest)
			if err != nil {
				t.Fatal(err)
			}
			return img
		}
	}
	t.Fatalf("%s is not in the test images' layout", ref)
	return nil
}

// ociArchive writes busybox as an OCI layout tar named refs, as the
// project's image tooling writes the pause image; it returns its path.
func ociArchive(t *testing.T, refs ...string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "oci.tar")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := images.WriteArchive(f, layoutImage(t, busyboxRef), refs); err != nil {
		t.Fatal(err)
	}
	return path
}

// dockerArchive writes busybox as `docker save` would, tagged ref.
func dockerArchive(t *testing.T, ref string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "docker.tar")
	tag, err := name.NewTag(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := tarball.WriteToFile(path, tag, layoutImage(t, busyboxRef)); err != nil {
		t.Fatal(err)
	}
	return path
}

// ctr runs containerd's ctr against d's containerd, in Berth's namespace.
func ctr(t *testing.T, d *harness.Daemon, args ...string) string {
	t.Helper()
	cmd := exec.Command(harness.Bin(t, "ctr"), append([]string{"--address", filepath.Join(d.State, "containerd", "containerd.sock"), "--namespace", "berth"}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("ctr %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// berthdImages runs `berthd images ARGS` for d, as an operator would on
// its node, and returns its stdout, its stderr and its error.
func berthdImages(t *testing.T, d *harness.Daemon, stdin []byte, args ...string) (string, string, error) {
	t.Helper()
	sub, rest := args[0], args[1:]
	cmd := exec.Command(harness.Bin(t, "berthd"), append([]string{"images", sub, "--config", filepath.Join(d.Dir, "config.toml"), "--state", d.State}, rest...)...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr, cmd.Stdin = &out, &errOut, bytes.NewReader(stdin)
	err := cmd.Run()
	return out.String(), errOut.String(), err
}

// archiveIsWhole checks that an exported archive holds what docker load and
// an OCI reader need: oci-layout, an index.json and docker's manifest.json
// naming ref, and every blob they reach, each whole (its content hashes to
// its name). A cut-short archive fails here, not only at a later import.
func archiveIsWhole(t *testing.T, archive []byte, ref string) {
	t.Helper()
	files := map[string][]byte{}
	tr := tar.NewReader(bytes.NewReader(archive))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("exported archive (%d bytes) cannot be read: %v", len(archive), err)
		}
		if h.Typeflag == tar.TypeDir {
			continue
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatalf("exported archive (%d bytes): %s cut short: %v", len(archive), h.Name, err)
		}
		files[h.Name] = b
	}
	for _, f := range []string{"oci-layout", "index.json", "manifest.json"} {
		if _, ok := files[f]; !ok {
			t.Fatalf("exported archive has no %s (it has %d files)", f, len(files))
		}
	}
	var dockerManifest []struct {
		Config   string
		RepoTags []string
		Layers   []string
	}
	if err := json.Unmarshal(files["manifest.json"], &dockerManifest); err != nil || len(dockerManifest) != 1 {
		t.Fatalf("exported manifest.json: %v: %s", err, files["manifest.json"])
	}
	m := dockerManifest[0]
	if !slices.Contains(m.RepoTags, ref) {
		t.Errorf("exported manifest.json tags %v, want %s among them", m.RepoTags, ref)
	}
	blobs := 0
	for name, b := range files {
		dgst, ok := strings.CutPrefix(name, "blobs/sha256/")
		if !ok {
			continue
		}
		blobs++
		if got := digest.FromBytes(b).Encoded(); got != dgst {
			t.Errorf("exported blob %s hashes to %s (%d bytes)", name, got, len(b))
		}
	}
	for _, name := range append([]string{m.Config}, m.Layers...) {
		if _, ok := files[name]; !ok {
			t.Errorf("exported archive lacks %s, which manifest.json names", name)
		}
	}
	if blobs < 2+len(m.Layers) {
		t.Errorf("exported archive holds %d blobs, want at least a manifest, a config and %d layers", blobs, len(m.Layers))
	}
}

// waitImage waits until ImageStatus of ref answers present (or absent) and
// says how long that took.
func waitImage(t *testing.T, d *harness.Daemon, ref string, present bool, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	d.WaitFor(fmt.Sprintf("ImageStatus %s present=%v", ref, present), within, func() bool {
		return (imageStatus(t, d, ref) != nil) == present
	})
	return time.Since(start)
}

// runsAContainer runs a container from ref in a new pod and execs in it.
func runsAContainer(t *testing.T, d *harness.Daemon, ref string) {
	t.Helper()
	pod, podCfg := runPod(t, d)
	id := runContainer(t, d, pod, podCfg, ctrConfig(ref))
	if got := mustExec(t, d, id, "echo", "offline"); got != "offline" {
		t.Fatalf("exec in a container of %s = %q", ref, got)
	}
}

// inspectiNotFound checks crictl inspecti reports ref absent, as kubelet's
// ImageStatus would see it.
func inspectiNotFound(t *testing.T, d *harness.Daemon, ref string) {
	t.Helper()
	out, err := d.Crictl("inspecti", ref)
	if err == nil || !strings.Contains(err.Error(), "no such image") {
		t.Fatalf("crictl inspecti %s after ctr images rm: want not found, got %v\n%s", ref, err, out)
	}
}

func TestImagesLoadedAndRemovedWithCtrAreSeenAtOnce(t *testing.T) {
	d := harness.Start(t)
	roundTrip := func(ref string) {
		t.Helper()
		ctr(t, d, "images", "import", ociArchive(t, ref))
		took := waitImage(t, d, ref, true, time.Second)
		t.Logf("%s listed %v after ctr images import returned", ref, took.Round(time.Millisecond))
		if out, err := d.Crictl("images", "-q"); err != nil || !strings.Contains(out, imageStatus(t, d, ref).Id) {
			t.Fatalf("crictl images does not list %s: %v\n%s", ref, err, out)
		}
		runsAContainer(t, d, ref)
		ctr(t, d, "images", "rm", ref)
		took = waitImage(t, d, ref, false, time.Second)
		t.Logf("%s gone %v after ctr images rm returned", ref, took.Round(time.Millisecond))
		inspectiNotFound(t, d, ref)
	}
	roundTrip("berth.test/airgap/ctr:before")

	first := d.ContainerdPID()
	if err := syscall.Kill(first, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	d.WaitFor("containerd restarted and RuntimeReady", 15*time.Second, func() bool {
		pid := d.ContainerdPID()
		return pid != first && pid != 0 && runtimeStatus(t, d)[runtimeapi.RuntimeReady].Status
	})
	// At once: the import may come before berthd has subscribed again,
	// and then the resync after the new subscription finds it.
	roundTrip("berth.test/airgap/ctr:after")
	d.WaitFor("berthd subscribed again and resynchronised", 5*time.Second, func() bool {
		return strings.Contains(d.Log(), "following containerd's image events again; index resynchronised")
	})
}

func TestBerthdImagesImportMakesArchiveTagsUsable(t *testing.T) {
	d := harness.Start(t)
	const dockerRef, ociRef = "berth.test/airgap/docker:1", "berth.test/airgap/oci:1"
	out, errOut, err := berthdImages(t, d, nil, "import", dockerArchive(t, dockerRef), ociArchive(t, ociRef))
	if err != nil {
		t.Fatalf("berthd images import: %v\n%s", err, errOut)
	}
	for _, ref := range []string{dockerRef, ociRef} {
		if !strings.Contains(out, "Loaded image: "+ref+" (sha256:") {
			t.Errorf("berthd images import did not print %s:\n%s", ref, out)
		}
		waitImage(t, d, ref, true, time.Second)
		runsAContainer(t, d, ref)
	}
	// The same image: one ID under both tags.
	if a, b := imageStatus(t, d, dockerRef), imageStatus(t, d, ociRef); a.Id != b.Id {
		t.Errorf("one image, two IDs: %s %s", a.Id, b.Id)
	}

	// Standard input, renamed.
	archive, err := os.ReadFile(ociArchive(t, "berth.test/airgap/unused:1"))
	if err != nil {
		t.Fatal(err)
	}
	const renamed = "berth.test/airgap/renamed:2"
	if out, errOut, err := berthdImages(t, d, archive, "import", "--name", renamed, "-"); err != nil || !strings.Contains(out, "Loaded image: "+renamed) {
		t.Fatalf("berthd images import --name %s -: %v\n%s%s", renamed, err, out, errOut)
	}
	waitImage(t, d, renamed, true, time.Second)
	if imageStatus(t, d, "berth.test/airgap/unused:1") != nil {
		t.Error("--name kept the archive's own name too")
	}

	// --name stands for one image: an archive of two is refused, and
	// leaves no such name.
	two := filepath.Join(t.TempDir(), "two.tar")
	if err := tarball.MultiRefWriteToFile(two, map[name.Reference]v1.Image{
		name.MustParseReference("berth.test/airgap/two:a"): layoutImage(t, busyboxRef),
		name.MustParseReference("berth.test/airgap/two:b"): layoutImage(t, uidImage),
	}); err != nil {
		t.Fatal(err)
	}
	if _, errOut, err := berthdImages(t, d, nil, "import", "--name", "berth.test/airgap/both:1", two); err == nil || !strings.Contains(errOut, "holds 2 images") {
		t.Fatalf("--name with an archive of two images: want refused, got %v\n%s", err, errOut)
	}
	// The import named the index before it read it, and then removed the
	// name: berthd's index follows containerd's image events, the delete's
	// a moment after the create's.
	d.WaitFor("a refused --name leaves no name (ImageStatus berth.test/airgap/both:1 absent)", 2*time.Second, func() bool {
		return imageStatus(t, d, "berth.test/airgap/both:1") == nil
	})

	// Export and back.
	exported := filepath.Join(t.TempDir(), "export.tar")
	if _, errOut, err := berthdImages(t, d, nil, "export", dockerRef, "-o", exported); err != nil {
		t.Fatalf("berthd images export: %v\n%s", err, errOut)
	}
	fromFile, err := os.ReadFile(exported)
	if err != nil {
		t.Fatal(err)
	}
	archiveIsWhole(t, fromFile, dockerRef)
	// To standard output, as `berthd images export ... -o - | ssh node2 berthd images import -`.
	fromStdout, errOut, err := berthdImages(t, d, nil, "export", dockerRef, "-o", "-")
	if err != nil {
		t.Fatalf("berthd images export -o -: %v\n%s", err, errOut)
	}
	archiveIsWhole(t, []byte(fromStdout), dockerRef)
	ctr(t, d, "images", "rm", dockerRef)
	waitImage(t, d, dockerRef, false, time.Second)
	if out, errOut, err := berthdImages(t, d, nil, "import", exported); err != nil || !strings.Contains(out, "Loaded image: "+dockerRef) {
		t.Fatalf("import of the exported archive: %v\n%s%s", err, out, errOut)
	}
	waitImage(t, d, dockerRef, true, time.Second)
}

func TestBerthdImagesImportOfABrokenArchiveLeavesNothing(t *testing.T) {
	d := harness.Start(t)
	whole, err := os.ReadFile(dockerArchive(t, "berth.test/airgap/broken:1"))
	if err != nil {
		t.Fatal(err)
	}
	corrupt := bytes.Clone(whole)
	for i := len(corrupt) / 3; i < len(corrupt)/3+4096; i++ {
		corrupt[i] ^= 0x5a // inside a layer: its digest no longer matches
	}
	client := containerdOf(t, d)
	ctx, cancel := ctxTimeout(30 * time.Second)
	defer cancel()
	leasesBefore := leaseIDs(ctx, t, client.LeasesService())
	imagesBefore := len(listImages(t, d, ""))

	for _, tc := range []struct {
		name    string
		archive []byte
	}{
		{"truncated", whole[:len(whole)/2]},
		{"corrupt", corrupt},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), tc.name+".tar")
			if err := os.WriteFile(path, tc.archive, 0o600); err != nil {
				t.Fatal(err)
			}
			out, errOut, err := berthdImages(t, d, nil, "import", path)
			if err == nil {
				t.Fatalf("berthd images import of a %s archive succeeded:\n%s", tc.name, out)
			}
			if !strings.Contains(errOut, "import "+path) || !strings.Contains(errOut, "nothing was named") {
				t.Errorf("the error does not say which archive failed and that nothing was loaded:\n%s", errOut)
			}
			t.Logf("berthd images import of a %s archive: %s", tc.name, strings.TrimSpace(errOut))
		})
	}

	all, err := client.ImageService().List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, img := range all {
		if strings.Contains(img.Name, "broken") {
			t.Errorf("a broken archive left the image name %s", img.Name)
		}
	}
	if n := len(listImages(t, d, "")); n != imagesBefore {
		t.Errorf("ListImages has %d images after the broken imports, %d before", n, imagesBefore)
	}
	if left := slices.DeleteFunc(leaseIDs(ctx, t, client.LeasesService()), func(id string) bool { return slices.Contains(leasesBefore, id) }); len(left) > 0 {
		t.Errorf("the broken imports left containerd leases %v: their content is never collected", left)
	}
	// What the imports wrote before failing (the config comes first in the
	// archive) goes with containerd's next garbage collection, run here at
	// once by a synchronous lease deletion.
	l, err := client.LeasesService().Create(ctx, leases.WithRandomID())
	if err != nil {
		t.Fatal(err)
	}
	if err := client.LeasesService().Delete(ctx, l, leases.SynchronousDelete); err != nil {
		t.Fatal(err)
	}
	cfg, err := layoutImage(t, busyboxRef).ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.ContentStore().Info(ctx, digest.Digest(cfg.String())); !errdefs.IsNotFound(err) {
		t.Errorf("the broken archives' config blob %s is still in containerd after a garbage collection: %v", cfg, err)
	}
}

func leaseIDs(ctx context.Context, t *testing.T, ls leases.Manager) []string {
	t.Helper()
	all, err := ls.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, l := range all {
		ids = append(ids, l.ID)
	}
	return ids
}

func TestPreloadDirIsImportedBeforeReady(t *testing.T) {
	dir := t.TempDir()
	const good = "berth.test/airgap/preloaded:1"
	for file, src := range map[string]string{"10-good.tar": ociArchive(t, good), "20-broken.tar": dockerArchive(t, "berth.test/airgap/broken:1")} {
		data, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if file == "20-broken.tar" {
			data = data[:len(data)/2]
		}
		if err := os.WriteFile(filepath.Join(dir, file), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	d := harness.Start(t, harness.WithConfig(fmt.Sprintf("[image]\npreload_dir = %q\n", dir)))
	// Start returned when berthd was ready: no waiting.
	if imageStatus(t, d, good) == nil {
		t.Fatalf("%s from preload_dir is not there when berthd is ready:\n%s", good, d.Log())
	}
	if !strings.Contains(d.Log(), "cannot preload image archive; skipping it") || !strings.Contains(d.Log(), "20-broken.tar") {
		t.Errorf("berthd's log does not name the broken archive:\n%s", d.Log())
	}
	if imageStatus(t, d, "berth.test/airgap/broken:1") != nil {
		t.Error("the truncated archive left an image")
	}
	runsAContainer(t, d, good)
}

// TestImageIndexAgreesWithContainerdAfterConcurrentChanges: Berth's own
// pulls and removals and ctr's imports and removals, all at once, leave
// the index saying what containerd has.
func TestImageIndexAgreesWithContainerdAfterConcurrentChanges(t *testing.T) {
	reg := harness.StartRegistry(t)
	d := harness.Start(t, harness.WithRegistryConfigDir(reg.HostsDir))
	archive := ociArchive(t, "berth.test/airgap/busy:1")
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 5 {
			if _, err := pullImage(d, busyboxRef, nil); err != nil {
				t.Errorf("PullImage: %v", err)
				return
			}
			ctx, cancel := ctxTimeout(time.Minute)
			_, err := d.Images.RemoveImage(ctx, &runtimeapi.RemoveImageRequest{Image: &runtimeapi.ImageSpec{Image: busyboxRef}})
			cancel()
			if err != nil {
				t.Errorf("RemoveImage: %v", err)
				return
			}
		}
		mustPull(t, d, busyboxRef)
	}()
	for i := range 5 {
		ctr(t, d, "images", "import", archive)
		if i < 4 {
			ctr(t, d, "images", "rm", "berth.test/airgap/busy:1")
		}
	}
	<-done

	// Both end present: under their tags, and the same image (one ID).
	waitImage(t, d, busyboxRef, true, time.Second)
	waitImage(t, d, "berth.test/airgap/busy:1", true, time.Second)
	client := containerdOf(t, d)
	ctx, cancel := ctxTimeout(30 * time.Second)
	defer cancel()
	d.WaitFor("ListImages agrees with containerd's names", 2*time.Second, func() bool {
		all, err := client.ImageService().List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var inContainerd, inIndex []string
		for _, img := range all {
			inContainerd = append(inContainerd, img.Name)
		}
		for _, img := range listImages(t, d, "") {
			inIndex = append(inIndex, img.Id)
			inIndex = append(inIndex, img.RepoTags...)
			inIndex = append(inIndex, img.RepoDigests...)
		}
		slices.Sort(inContainerd)
		slices.Sort(inIndex)
		if !slices.Equal(inContainerd, inIndex) {
			t.Logf("containerd %v\nindex      %v", inContainerd, inIndex)
			return false
		}
		return true
	})
}
