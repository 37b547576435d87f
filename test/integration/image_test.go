package integration

import (
	"bufio"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/berth-cri/berth/test/harness"
)

const (
	pauseRef      = "registry.k8s.io/pause:3.10.1"
	busyboxRef    = "registry.k8s.io/e2e-test-images/busybox:1.29-2"
	nginxRepo     = "registry.k8s.io/e2e-test-images/nginx"
	tagsRepo      = "gcr.io/k8s-staging-cri-tools/test-image-tags"
	uidImage      = "gcr.io/k8s-staging-cri-tools/test-image-user-uid:latest"
	usernameImage = "gcr.io/k8s-staging-cri-tools/test-image-user-username-group:latest"
)

// imageDigests reads the manifest digest of every test image from the
// list `make images` writes.
func imageDigests(t *testing.T) map[string]string {
	t.Helper()
	f, err := os.Open(filepath.Join(harness.ImagesDir(), "digests.txt"))
	if err != nil {
		t.Fatalf("the test images are not built (run make images): %v", err)
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if digest, ref, ok := strings.Cut(sc.Text(), " "); ok {
			out[ref] = digest
		}
	}
	return out
}

func pullImage(d *harness.Daemon, ref string, auth *runtimeapi.AuthConfig) (string, error) {
	ctx, cancel := ctxTimeout(2 * time.Minute)
	defer cancel()
	resp, err := d.Images.PullImage(ctx, &runtimeapi.PullImageRequest{Image: &runtimeapi.ImageSpec{Image: ref}, Auth: auth})
	return resp.GetImageRef(), err
}

func mustPull(t *testing.T, d *harness.Daemon, ref string) string {
	t.Helper()
	id, err := pullImage(d, ref, nil)
	if err != nil {
		t.Fatalf("PullImage %s: %v", ref, err)
	}
	return id
}

// imageStatus returns the image, or nil when berthd does not have it.
func imageStatus(t *testing.T, d *harness.Daemon, ref string) *runtimeapi.Image {
	t.Helper()
	ctx, cancel := ctxTimeout(10 * time.Second)
	defer cancel()
	resp, err := d.Images.ImageStatus(ctx, &runtimeapi.ImageStatusRequest{Image: &runtimeapi.ImageSpec{Image: ref}})
	if err != nil {
		t.Fatalf("ImageStatus %s: %v", ref, err)
	}
	return resp.Image
}

func listImages(t *testing.T, d *harness.Daemon, filter string) []*runtimeapi.Image {
	t.Helper()
	ctx, cancel := ctxTimeout(10 * time.Second)
	defer cancel()
	req := &runtimeapi.ListImagesRequest{}
	if filter != "" {
		req.Filter = &runtimeapi.ImageFilter{Image: &runtimeapi.ImageSpec{Image: filter}}
	}
	resp, err := d.Images.ListImages(ctx, req)
	if err != nil {
		t.Fatalf("ListImages: %v", err)
	}
	return resp.Images
}

func removeImage(t *testing.T, d *harness.Daemon, ref string) {
	t.Helper()
	ctx, cancel := ctxTimeout(30 * time.Second)
	defer cancel()
	if _, err := d.Images.RemoveImage(ctx, &runtimeapi.RemoveImageRequest{Image: &runtimeapi.ImageSpec{Image: ref}}); err != nil {
		t.Fatalf("RemoveImage %s: %v", ref, err)
	}
}

// emptyRegistryConfig is a hosts.toml directory with nothing in it, so a
// test never depends on the node's /etc/berth/certs.d.
func emptyRegistryConfig(t *testing.T) harness.Option {
	return harness.WithRegistryConfigDir(t.TempDir())
}

// TestImagePauseIsThereOfflineAtStart: a fresh berthd with no registry
// at all has the pause image, pinned, and runs a pod with it.
func TestImagePauseIsThereOfflineAtStart(t *testing.T) {
	d := harness.Start(t, emptyRegistryConfig(t))
	img := imageStatus(t, d, pauseRef)
	if img == nil {
		t.Fatalf("no %s right after start; berthd's log:\n%s", pauseRef, d.Log())
	}
	if !img.Pinned {
		t.Error("the pause image is not pinned: kubelet's image GC would remove it")
	}
	if !slices.Equal(img.RepoTags, []string{pauseRef}) || img.GetUid().GetValue() != 65535 || img.Size == 0 {
		t.Errorf("pause image = %+v", img)
	}
	if got := imageStatus(t, d, img.Id); got == nil || got.Id != img.Id {
		t.Errorf("ImageStatus by the ID %s = %v", img.Id, got)
	}
	if list := listImages(t, d, ""); len(list) != 1 || list[0].Id != img.Id {
		t.Errorf("ListImages = %v, want just the pause image", list)
	}
	runPod(t, d)
}

// TestImagePullListStatusRemove drives pulls from the loopback registry
// through hosts.toml, and every way of naming the result.
func TestImagePullListStatusRemove(t *testing.T) {
	digests := imageDigests(t)
	reg := harness.StartRegistry(t)
	d := harness.Start(t, harness.WithRegistryConfigDir(reg.HostsDir))

	t.Run("by tag", func(t *testing.T) {
		id := mustPull(t, d, busyboxRef)
		img := imageStatus(t, d, busyboxRef)
		if img == nil || img.Id != id {
			t.Fatalf("ImageStatus %s = %v, want ID %s as PullImage answered", busyboxRef, img, id)
		}
		wantDigest := "registry.k8s.io/e2e-test-images/busybox@" + digests[busyboxRef]
		if !slices.Equal(img.RepoTags, []string{busyboxRef}) || !slices.Equal(img.RepoDigests, []string{wantDigest}) || img.Size == 0 {
			t.Errorf("status = %+v, want tag %s, digest %s, a size", img, busyboxRef, wantDigest)
		}
		for _, ref := range []string{id, wantDigest, strings.TrimPrefix(id, "sha256:")[:12]} {
			if got := imageStatus(t, d, ref); got.GetId() != id {
				t.Errorf("ImageStatus(%s) = %v, want %s", ref, got, id)
			}
		}
		if list := listImages(t, d, busyboxRef); len(list) != 1 || list[0].Id != id {
			t.Errorf("ListImages filtered by %s = %v", busyboxRef, list)
		}
	})

	t.Run("by digest", func(t *testing.T) {
		ref := nginxRepo + "@" + digests[nginxRepo+":1.14-2"]
		id := mustPull(t, d, ref)
		img := imageStatus(t, d, ref)
		if img.GetId() != id || len(img.RepoTags) != 0 || !slices.Equal(img.RepoDigests, []string{ref}) {
			t.Errorf("status = %+v, want no tag and the digest %s", img, ref)
		}
	})

	t.Run("without registry or tag, through the docker.io mirror", func(t *testing.T) {
		id := mustPull(t, d, "k8s-staging-cri-tools/test-image-latest")
		want := "docker.io/k8s-staging-cri-tools/test-image-latest:latest"
		img := imageStatus(t, d, want)
		if img.GetId() != id || !slices.Equal(img.RepoTags, []string{want}) {
			t.Errorf("status = %+v, want the tag normalised to %s", img, want)
		}
	})

	t.Run("user from the image config", func(t *testing.T) {
		mustPull(t, d, uidImage)
		mustPull(t, d, usernameImage)
		if img := imageStatus(t, d, uidImage); img.GetUid().GetValue() != 1002 || img.Username != "" {
			t.Errorf("%s: uid %v username %q, want 1002", uidImage, img.GetUid(), img.Username)
		}
		if img := imageStatus(t, d, usernameImage); img.Uid != nil || img.Username != "www-data" {
			t.Errorf("%s: uid %v username %q, want www-data", usernameImage, img.Uid, img.Username)
		}
	})

	t.Run("removing by one tag removes all tags", func(t *testing.T) {
		tags := []string{tagsRepo + ":1", tagsRepo + ":2", tagsRepo + ":3"}
		var id string
		for _, tag := range tags {
			id = mustPull(t, d, tag)
		}
		list := listImages(t, d, tagsRepo)
		if len(list) != 1 || !slices.Equal(list[0].RepoTags, tags) {
			t.Fatalf("ListImages(%s) = %v, want one image with %v", tagsRepo, list, tags)
		}
		removeImage(t, d, tags[1])
		for _, ref := range append(tags, id) {
			if img := imageStatus(t, d, ref); img != nil {
				t.Errorf("%s is still there: %+v", ref, img)
			}
		}
		for _, img := range listImages(t, d, "") {
			if img.Id == id {
				t.Errorf("ListImages still has %s", id)
			}
		}
		removeImage(t, d, tags[0]) // unknown now: still a success
	})

	t.Run("unknown image is NotFound naming it", func(t *testing.T) {
		_, err := pullImage(d, "registry.k8s.io/e2e-test-images/no-such-image:1", nil)
		t.Logf("unknown image: %v", err)
		if status.Code(err) != codes.NotFound || !strings.Contains(err.Error(), "no-such-image") {
			t.Fatalf("err = %v, want NotFound naming the reference", err)
		}
		_, err = pullImage(d, busyboxRef[:strings.LastIndex(busyboxRef, ":")]+":no-such-tag", nil)
		if status.Code(err) != codes.NotFound || !strings.Contains(err.Error(), "no-such-tag") {
			t.Fatalf("err = %v, want NotFound naming the tag", err)
		}
	})

	t.Run("concurrent pulls of one image download it once", func(t *testing.T) {
		const ref = "gcr.io/k8s-staging-cri-tools/test-image-1:latest"
		pullsStarted := func() int {
			n := 0
			for _, line := range strings.Split(d.Log(), "\n") {
				if strings.Contains(line, `msg="pull started"`) && strings.Contains(line, " ref="+ref+" ") {
					n++
				}
			}
			return n
		}
		before := pullsStarted()
		ids := make([]string, 6)
		var wg sync.WaitGroup
		for i := range ids {
			wg.Go(func() {
				id, err := pullImage(d, ref, nil)
				if err != nil {
					t.Error(err)
				}
				ids[i] = id
			})
		}
		wg.Wait()
		if ids[0] == "" || slices.ContainsFunc(ids, func(s string) bool { return s != ids[0] }) {
			t.Errorf("concurrent pulls answered %v", ids)
		}
		n := pullsStarted() - before
		t.Logf("%d concurrent PullImage calls, %d pulls", len(ids), n)
		if n == 0 || n >= len(ids) {
			t.Errorf("%d pulls started for %d concurrent requests", n, len(ids))
		}
	})

	t.Run("image filesystem", func(t *testing.T) {
		ctx, cancel := ctxTimeout(10 * time.Second)
		defer cancel()
		resp, err := d.Images.ImageFsInfo(ctx, &runtimeapi.ImageFsInfoRequest{})
		if err != nil {
			t.Fatal(err)
		}
		for kind, fs := range map[string][]*runtimeapi.FilesystemUsage{"image": resp.ImageFilesystems, "container": resp.ContainerFilesystems} {
			if len(fs) != 1 || fs[0].UsedBytes == nil || fs[0].InodesUsed == nil || fs[0].Timestamp == 0 {
				t.Fatalf("%s filesystems = %v", kind, fs)
			}
			mp := fs[0].GetFsId().GetMountpoint()
			if st, err := os.Stat(mp); err != nil || !st.IsDir() || !strings.HasPrefix(mp, d.Root) {
				t.Errorf("%s fs mountpoint %q is not a directory under berthd's root %s: %v", kind, mp, d.Root, err)
			}
		}
		if used := resp.ImageFilesystems[0].UsedBytes.Value; used < 1<<20 {
			t.Errorf("images use %d bytes after pulling several busybox images", used)
		}
	})

	t.Run("crictl", func(t *testing.T) {
		const ref = "gcr.io/k8s-staging-cri-tools/test-image-2:latest"
		if out, err := d.Crictl("pull", ref); err != nil || !strings.Contains(out, "sha256:") {
			t.Fatalf("crictl pull: %v\n%s", err, out)
		}
		out, err := d.Crictl("images")
		if err != nil || !strings.Contains(out, "gcr.io/k8s-staging-cri-tools/test-image-2") || !strings.Contains(out, pauseRef[:strings.LastIndex(pauseRef, ":")]) {
			t.Fatalf("crictl images: %v\n%s", err, out)
		}
		out, err = d.Crictl("inspecti", ref)
		if err != nil {
			t.Fatalf("crictl inspecti: %v\n%s", err, out)
		}
		var inspect struct {
			Status struct {
				ID       string   `json:"id"`
				RepoTags []string `json:"repoTags"`
			} `json:"status"`
			Info struct {
				ImageSpec struct {
					Config struct{ Cmd []string } `json:"config"`
				} `json:"imageSpec"`
			} `json:"info"`
		}
		if err := json.Unmarshal([]byte(out), &inspect); err != nil || !slices.Equal(inspect.Status.RepoTags, []string{ref}) || len(inspect.Info.ImageSpec.Config.Cmd) == 0 {
			t.Errorf("crictl inspecti: %v\n%s", err, out)
		}
		out, err = d.Crictl("imagefsinfo")
		if err != nil || !strings.Contains(out, "usedBytes") || !strings.Contains(out, "mountpoint") {
			t.Errorf("crictl imagefsinfo: %v\n%s", err, out)
		}
		if out, err := d.Crictl("rmi", ref); err != nil {
			t.Fatalf("crictl rmi: %v\n%s", err, out)
		}
		if img := imageStatus(t, d, ref); img != nil {
			t.Errorf("%s still there after crictl rmi", ref)
		}
	})
}

// TestImagePulledAgainAfterRemoval pulls an image, removes it and pulls it
// again. The second pull names the image from what Berth read of its
// manifest the first time (inspectedMemo): the status and the names in
// containerd must be a first pull's.
func TestImagePulledAgainAfterRemoval(t *testing.T) {
	reg := harness.StartRegistry(t)
	d := harness.Start(t, harness.WithRegistryConfigDir(reg.HostsDir))
	id := mustPull(t, d, uidImage)
	first := imageStatus(t, d, uidImage)
	removeImage(t, d, id)
	if img := imageStatus(t, d, uidImage); img != nil {
		t.Fatalf("%s is still there after RemoveImage: %+v", uidImage, img)
	}
	if again := mustPull(t, d, uidImage); again != id {
		t.Fatalf("pulled again: ID %s, want %s", again, id)
	}
	second := imageStatus(t, d, uidImage)
	if second.GetId() != id || second.Size != first.Size || !slices.Equal(second.RepoTags, first.RepoTags) ||
		!slices.Equal(second.RepoDigests, first.RepoDigests) || second.GetUid().GetValue() != 1002 {
		t.Errorf("pulled again: %+v, want %+v", second, first)
	}
	for _, ref := range append([]string{id}, first.RepoDigests...) {
		if got := imageStatus(t, d, ref); got.GetId() != id {
			t.Errorf("pulled again: ImageStatus(%s) = %v, want %s", ref, got, id)
		}
	}
	// containerd holds every name of a first pull: the tag, the repo
	// digest and the ID, which keeps the image when its tag moves on.
	ctx, cancel := ctxTimeout(10 * time.Second)
	defer cancel()
	client := containerdOf(t, d)
	for _, name := range append(append([]string{id}, first.RepoTags...), first.RepoDigests...) {
		if _, err := client.GetImage(ctx, name); err != nil {
			t.Errorf("pulled again: containerd has no image name %s: %v", name, err)
		}
	}
	// After a restart the index is rebuilt from containerd's names.
	d.Restart()
	if got := imageStatus(t, d, uidImage); got.GetId() != id || !slices.Equal(got.RepoDigests, first.RepoDigests) || !slices.Equal(got.RepoTags, first.RepoTags) {
		t.Errorf("after a restart: %+v, want %+v", got, first)
	}
	// Removed by its ID, the image goes with every name: none is left in
	// containerd to come back after the next restart.
	removeImage(t, d, id)
	for _, img := range listImages(t, d, "") {
		if img.Id == id {
			t.Errorf("ListImages still has %s after removing it by ID: %+v", id, img)
		}
	}
	d.Restart()
	if img := imageStatus(t, d, id); img != nil {
		t.Errorf("after a restart, ImageStatus(%s) = %+v: a name was left in containerd", id, img)
	}
}

// TestImagePullWithBasicAuth pulls through a mirror that wants a password.
func TestImagePullWithBasicAuth(t *testing.T) {
	const user, password, wrong = "berth", "Corr3ct-h0rse", "wr0ng-batt3ry"
	reg := harness.StartRegistry(t, harness.WithBasicAuth(user, password))
	d := harness.Start(t, harness.WithRegistryConfigDir(reg.HostsDir))

	_, err := pullImage(d, busyboxRef, &runtimeapi.AuthConfig{Username: user, Password: wrong})
	t.Logf("wrong password: %v", err)
	if status.Code(err) != codes.Unauthenticated || !strings.Contains(err.Error(), "rejected the credentials") || !strings.Contains(err.Error(), busyboxRef) {
		t.Errorf("wrong password: %v, want Unauthenticated saying the credentials were rejected", err)
	}
	_, err = pullImage(d, busyboxRef, nil)
	t.Logf("no credentials: %v", err)
	if status.Code(err) != codes.Unauthenticated || !strings.Contains(err.Error(), "requires credentials") {
		t.Errorf("no credentials: %v, want Unauthenticated saying some are needed", err)
	}
	id, err := pullImage(d, busyboxRef, &runtimeapi.AuthConfig{Username: user, Password: password})
	if err != nil || imageStatus(t, d, busyboxRef).GetId() != id {
		t.Fatalf("right password: %v", err)
	}
	// kubelet may send the credential as docker's "auth" field.
	if out, err := d.Crictl("pull", "--creds", user+":"+password, uidImage); err != nil {
		t.Errorf("crictl pull --creds: %v\n%s", err, out)
	}
	// containerd pulls, and asks berthd for the credential: its log must
	// not hold it either.
	ctrdLog, err := os.ReadFile(filepath.Join(d.Root, "containerd.log"))
	if err != nil {
		t.Fatal(err)
	}
	for name, log := range map[string]string{"berthd": d.Log(), "containerd": string(ctrdLog)} {
		if os.Getenv("BERTH_DUMP_LOG") != "" {
			t.Logf("%s's log:\n%s", name, log)
		}
		for _, secret := range []string{password, wrong} {
			if strings.Contains(log, secret) {
				t.Errorf("%s's log holds a password (%s)", name, secret)
			}
		}
	}
}

// stallingRegistry serves one image, stall.test/app:1, whose layer stops
// half way: headers and half the bytes, then nothing until the client
// goes away.
type stallingRegistry struct {
	manifest, config, layer []byte
	stalls                  chan struct{}
	release                 chan struct{}
}

func digestOf(b []byte) string { return fmt.Sprintf("sha256:%x", sha256.Sum256(b)) }

func newStallingRegistry(t *testing.T) (*stallingRegistry, *httptest.Server) {
	r := &stallingRegistry{layer: make([]byte, 1<<20), stalls: make(chan struct{}, 10), release: make(chan struct{})}
	rand.Read(r.layer)
	r.config = fmt.Appendf(nil, `{"architecture":"amd64","os":"linux","config":{},"rootfs":{"type":"layers","diff_ids":[%q]}}`, digestOf(r.layer))
	r.manifest = fmt.Appendf(nil, `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",`+
		`"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":%q,"size":%d},`+
		`"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":%q,"size":%d}]}`,
		digestOf(r.config), len(r.config), digestOf(r.layer), len(r.layer))
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(r.release) }) // runs first: unblocks stalled handlers
	return r, srv
}

func (r *stallingRegistry) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	serve := func(mediaType string, body []byte) {
		w.Header().Set("Content-Type", mediaType)
		w.Header().Set("Docker-Content-Digest", digestOf(body))
		w.Header().Set("Content-Length", fmt.Sprint(len(body)))
		if req.Method != http.MethodHead {
			_, _ = w.Write(body) // the pull tells whether it arrived
		}
	}
	switch req.URL.Path {
	case "/v2/", "/v2":
		w.WriteHeader(http.StatusOK)
	case "/v2/app/manifests/1", "/v2/app/manifests/" + digestOf(r.manifest):
		serve("application/vnd.oci.image.manifest.v1+json", r.manifest)
	case "/v2/app/blobs/" + digestOf(r.config):
		serve("application/octet-stream", r.config)
	case "/v2/app/blobs/" + digestOf(r.layer):
		w.Header().Set("Content-Length", fmt.Sprint(len(r.layer)))
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(r.layer[:len(r.layer)/2]) // half a layer, then the stall
		w.(http.Flusher).Flush()
		r.stalls <- struct{}{}
		select {
		case <-req.Context().Done():
		case <-r.release:
		}
	default:
		w.WriteHeader(http.StatusNotFound)
	}
}

// TestImagePullStallHitsTheProgressTimeout: a blob that stops half way
// cancels the pull after image.pull_progress_timeout, not never.
func TestImagePullStallHitsTheProgressTimeout(t *testing.T) {
	reg, srv := newStallingRegistry(t)
	hosts := t.TempDir()
	hostsTOML := fmt.Sprintf("server = %q\n\n[host.%q]\n  capabilities = [\"pull\", \"resolve\"]\n", srv.URL, srv.URL)
	if err := os.MkdirAll(filepath.Join(hosts, "stall.test"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(hosts, "stall.test", "hosts.toml"), []byte(hostsTOML), 0o644); err != nil {
		t.Fatal(err)
	}
	d := harness.Start(t, harness.WithRegistryConfigDir(hosts), harness.WithConfig("[image]\npull_progress_timeout = \"2s\"\n"))

	start := time.Now()
	_, err := pullImage(d, "stall.test/app:1", nil)
	took := time.Since(start)
	t.Logf("after %v: %v", took.Round(time.Millisecond), err)
	select {
	case <-reg.stalls:
	default:
		t.Fatalf("the pull never reached the stalling layer: %v", err)
	}
	if status.Code(err) != codes.DeadlineExceeded || !strings.Contains(err.Error(), "pull_progress_timeout") || !strings.Contains(err.Error(), "stall.test/app:1") {
		t.Fatalf("err = %v, want DeadlineExceeded naming the image and the setting", err)
	}
	if took < 2*time.Second || took > 20*time.Second {
		t.Errorf("the stalled pull ended after %v with a 2s progress timeout", took)
	}
	if img := imageStatus(t, d, "stall.test/app:1"); img != nil {
		t.Errorf("a half-pulled image is listed: %+v", img)
	}
	if !strings.Contains(d.Log(), "cancelling image pull: no data received") {
		t.Errorf("berthd's log does not say why it cancelled")
	}
}

// TestImageIndexSurvivesRestart: the index is rebuilt from containerd, and
// a pause image the operator pulled over the built-in one is kept.
func TestImageIndexSurvivesRestart(t *testing.T) {
	reg := harness.StartRegistry(t)
	d := harness.Start(t, harness.WithRegistryConfigDir(reg.HostsDir))
	builtin := imageStatus(t, d, pauseRef)
	busyboxID := mustPull(t, d, busyboxRef)
	pulledPause := mustPull(t, d, pauseRef)
	if pulledPause == builtin.GetId() {
		t.Fatalf("the registry's pause image has the built-in's ID %s: this test cannot tell them apart", pulledPause)
	}
	before := listImages(t, d, "")

	d.Restart()
	after := listImages(t, d, "")
	if len(after) != len(before) {
		t.Errorf("%d images before the restart, %d after", len(before), len(after))
	}
	if img := imageStatus(t, d, busyboxRef); img.GetId() != busyboxID || !slices.Equal(img.RepoTags, []string{busyboxRef}) || len(img.RepoDigests) != 1 {
		t.Errorf("after restart, %s = %+v", busyboxRef, img)
	}
	pause := imageStatus(t, d, pauseRef)
	if pause.GetId() != pulledPause || !pause.Pinned {
		t.Errorf("after restart, %s = %+v; want the operator's pull %s, pinned", pauseRef, pause, pulledPause)
	}
	if old := imageStatus(t, d, builtin.GetId()); old != nil && (old.Pinned || len(old.RepoTags) != 0) {
		t.Errorf("the replaced built-in pause image is still pinned or tagged: %+v", old)
	}
	if !strings.Contains(d.Log(), "pause image present; keeping it") {
		t.Error("berthd's log does not say it kept the pause image")
	}
}
