package images

import (
	"slices"
	"testing"

	"github.com/containerd/errdefs"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

const (
	busyboxID = "sha256:aaaa1111000000000000000000000000000000000000000000000000000000aa"
	pauseID   = "sha256:aaaa2222000000000000000000000000000000000000000000000000000000bb"
	nginxID   = "sha256:bbbb3333000000000000000000000000000000000000000000000000000000cc"
)

// fixtureStore holds busybox under an ID, a tag and a digest, pause
// pinned under its tag, and nginx under two tags.
func fixtureStore() *store {
	s := newStore()
	busybox := Image{ID: busyboxID, Size: 10}
	s.set(busyboxID, busybox, false)
	s.set("docker.io/library/busybox:latest", busybox, false)
	s.set("docker.io/library/busybox@"+testDigest, busybox, false)
	pause := Image{ID: pauseID, Size: 1}
	s.set(pauseID, pause, false)
	s.set("registry.k8s.io/pause:3.10.1", pause, true)
	nginx := Image{ID: nginxID, Size: 20}
	s.set("docker.io/library/nginx:1", nginx, false)
	s.set("docker.io/library/nginx:latest", nginx, false)
	return s
}

func TestStoreResolve(t *testing.T) {
	s := fixtureStore()
	for _, tc := range []struct {
		in, wantID string
		wantErr    func(error) bool
	}{
		{in: busyboxID, wantID: busyboxID},
		{in: "busybox", wantID: busyboxID},
		{in: "busybox:latest", wantID: busyboxID},
		{in: "docker.io/library/busybox:latest", wantID: busyboxID},
		{in: "busybox@" + testDigest, wantID: busyboxID},
		{in: "registry.k8s.io/pause:3.10.1", wantID: pauseID},
		{in: "nginx:1", wantID: nginxID},
		{in: "bbbb", wantID: nginxID},
		{in: "sha256:aaaa1", wantID: busyboxID},
		{in: "aaaa", wantErr: errdefs.IsInvalidArgument}, // two IDs start so
		{in: "busybox:1.36", wantErr: errdefs.IsNotFound},
		{in: "sha256:cccc000000000000000000000000000000000000000000000000000000000000", wantErr: errdefs.IsNotFound},
		{in: "cccc", wantErr: errdefs.IsNotFound},
		{in: "", wantErr: errdefs.IsInvalidArgument},
	} {
		t.Run(tc.in, func(t *testing.T) {
			img, err := s.resolve(tc.in)
			if tc.wantErr != nil {
				if !tc.wantErr(err) {
					t.Fatalf("resolve(%q) = %s, %v; want a different error", tc.in, img.ID, err)
				}
				return
			}
			if err != nil || img.ID != tc.wantID {
				t.Fatalf("resolve(%q) = %s, %v; want %s", tc.in, img.ID, err, tc.wantID)
			}
		})
	}
}

func TestStoreReferencesAndPinning(t *testing.T) {
	s := fixtureStore()
	img, _ := s.get(busyboxID)
	if want := []string{"docker.io/library/busybox:latest", "docker.io/library/busybox@" + testDigest, busyboxID}; !slices.Equal(img.References, want) {
		t.Errorf("references = %v, want %v", img.References, want)
	}
	if tags := img.RepoTags(); !slices.Equal(tags, []string{"docker.io/library/busybox:latest"}) {
		t.Errorf("repo tags = %v", tags)
	}
	if digests := img.RepoDigests(); !slices.Equal(digests, []string{"docker.io/library/busybox@" + testDigest}) {
		t.Errorf("repo digests = %v", digests)
	}
	if img.Pinned {
		t.Error("busybox is pinned")
	}
	pause, _ := s.get(pauseID)
	if !pause.Pinned {
		t.Error("pause is not pinned")
	}

	// A tag moving to another image leaves the old one its other names.
	s.set("docker.io/library/busybox:latest", Image{ID: nginxID}, false)
	img, _ = s.get(busyboxID)
	if len(img.RepoTags()) != 0 || len(img.References) != 2 {
		t.Errorf("after the tag moved, busybox has %v", img.References)
	}
	nginx, _ := s.get(nginxID)
	if len(nginx.RepoTags()) != 3 {
		t.Errorf("nginx has tags %v, want 3", nginx.RepoTags())
	}
	// What a caller gets is its own: changing it leaves the index as it was.
	nginx.RepoTags()[0] = "changed"
	nginx.References[0] = "changed"
	if again, _ := s.get(nginxID); slices.Contains(again.RepoTags(), "changed") || slices.Contains(again.References, "changed") {
		t.Errorf("a caller's change reached the index: %v %v", again.RepoTags(), again.References)
	}
	// The pinned name gone, the image is no longer pinned.
	s.drop("registry.k8s.io/pause:3.10.1")
	if pause, _ := s.get(pauseID); pause.Pinned {
		t.Error("pause still pinned without its pinned name")
	}
	// The last name gone, the image is gone.
	s.drop(pauseID)
	if _, ok := s.get(pauseID); ok {
		t.Error("pause still listed with no name")
	}
	ids := []string{}
	for _, img := range s.list() {
		ids = append(ids, img.ID)
	}
	if want := []string{busyboxID, nginxID}; !slices.Equal(ids, want) {
		t.Errorf("list = %v, want %v (sorted)", ids, want)
	}
}

func TestImageUser(t *testing.T) {
	for _, tc := range []struct {
		user     string
		uid      int64
		hasUID   bool
		username string
	}{
		{user: ""},
		{user: "0", uid: 0, hasUID: true},
		{user: "1000", uid: 1000, hasUID: true},
		{user: "65535:65535", uid: 65535, hasUID: true},
		{user: "nobody", username: "nobody"},
		{user: "www-data:www-data", username: "www-data"},
		{user: "1000:staff", uid: 1000, hasUID: true},
	} {
		img := Image{Config: ocispec.Image{Config: ocispec.ImageConfig{User: tc.user}}}
		uid, name := img.User()
		if (uid != nil) != tc.hasUID || (uid != nil && *uid != tc.uid) || name != tc.username {
			t.Errorf("User %q: got uid %v name %q, want uid %d (%v) name %q", tc.user, uid, name, tc.uid, tc.hasUID, tc.username)
		}
	}
}

// TestStoreApplyRefusesARefreshOlderThanAnOwnWrite: a refresh that read
// containerd before Berth's own write of the name landed must not undo it.
func TestStoreApplyRefusesARefreshOlderThanAnOwnWrite(t *testing.T) {
	const name = "docker.io/library/busybox:latest"
	busybox := Image{ID: busyboxID, Target: ocispec.Descriptor{Digest: testDigest}}
	for _, tc := range []struct {
		desc      string
		ownWrite  func(s *store) // between the refresh's stamp and its apply
		read      *Image         // what the refresh read: nil is NotFound
		wantApply bool
		wantID    string // what the name resolves to afterwards; "" NotFound
	}{
		{desc: "no own write: a removal read is applied", read: nil, wantApply: true},
		{desc: "no own write: an image read is applied", read: &busybox, wantApply: true, wantID: busyboxID},
		{desc: "a pull landed: the older NotFound is refused", ownWrite: func(s *store) { s.set(name, busybox, false) },
			read: nil, wantApply: false, wantID: busyboxID},
		{desc: "a removal landed: the older image is refused", ownWrite: func(s *store) { s.drop(name) },
			read: &busybox, wantApply: false},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			s := newStore()
			stamp := s.stamp(name)
			if tc.ownWrite != nil {
				tc.ownWrite(s)
			}
			if got := s.apply(name, stamp, tc.read, false); got != tc.wantApply {
				t.Fatalf("apply = %v, want %v", got, tc.wantApply)
			}
			img, err := s.resolve(name)
			switch {
			case tc.wantID == "" && !errdefs.IsNotFound(err):
				t.Fatalf("resolve(%s) = %s, %v; want NotFound", name, img.ID, err)
			case tc.wantID != "" && img.ID != tc.wantID:
				t.Fatalf("resolve(%s) = %s, %v; want %s", name, img.ID, err, tc.wantID)
			}
			// A refresh that starts now (after the own write) applies.
			if !s.apply(name, s.stamp(name), nil, false) {
				t.Fatal("a refresh stamped after the own write was refused")
			}
		})
	}
}

func TestStoreCurrentComparesTargetAndPinning(t *testing.T) {
	s := fixtureStore()
	other := digest.FromString("other")
	for _, tc := range []struct {
		name   string
		target digest.Digest
		pinned bool
		want   bool
	}{
		{"registry.k8s.io/pause:3.10.1", "", true, true},
		{"registry.k8s.io/pause:3.10.1", "", false, false},
		{"registry.k8s.io/pause:3.10.1", other, true, false},
		{"docker.io/library/unknown:latest", "", false, false},
	} {
		if got := s.current(tc.name, tc.target, tc.pinned); got != tc.want {
			t.Errorf("current(%s, %q, %v) = %v, want %v", tc.name, tc.target, tc.pinned, got, tc.want)
		}
	}
}
