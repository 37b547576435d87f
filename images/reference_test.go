package images

import (
	"slices"
	"testing"

	"github.com/containerd/errdefs"
	"github.com/opencontainers/go-digest"
)

const (
	testDigest = "sha256:0d2b1b4c2a6f2b0a1f1c2c3b4a5968778695a4b3c2d1e0f0a1b2c3d4e5f60718"
	testID     = "sha256:4a5b6c7d8e9f00112233445566778899aabbccddeeff00112233445566778899"
)

func TestNormalize(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		invalid  bool
	}{
		{in: "busybox", want: "docker.io/library/busybox:latest"},
		{in: "busybox:1.36", want: "docker.io/library/busybox:1.36"},
		{in: "library/busybox", want: "docker.io/library/busybox:latest"},
		{in: "docker.io/busybox", want: "docker.io/library/busybox:latest"},
		{in: "index.docker.io/library/busybox:1", want: "docker.io/library/busybox:1"},
		{in: "someone/app", want: "docker.io/someone/app:latest"},
		{in: "registry.k8s.io/pause:3.10.1", want: "registry.k8s.io/pause:3.10.1"},
		{in: "localhost:5000/app", want: "localhost:5000/app:latest"},
		{in: "127.0.0.1:5000/a/b:v1", want: "127.0.0.1:5000/a/b:v1"},
		{in: "busybox@" + testDigest, want: "docker.io/library/busybox@" + testDigest},
		// A tag beside a digest is dropped: the digest is what is pulled.
		{in: "busybox:1.36@" + testDigest, want: "docker.io/library/busybox@" + testDigest},
		{in: "", invalid: true},
		{in: "Busybox", invalid: true},
		{in: "busybox:", invalid: true},
		{in: "busybox@sha256:short", invalid: true},
		// A bare 64-hex name is refused: it would read as an image ID.
		{in: testID[len("sha256:"):], invalid: true},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := Normalize(tc.in)
			if tc.invalid {
				if !errdefs.IsInvalidArgument(err) {
					t.Fatalf("Normalize(%q) = %v, %v; want InvalidArgument", tc.in, got, err)
				}
				return
			}
			if err != nil || got.String() != tc.want {
				t.Fatalf("Normalize(%q) = %v, %v; want %s", tc.in, got, err, tc.want)
			}
		})
	}
}

func TestRepoDigestAndTag(t *testing.T) {
	manifest := digest.Digest(testDigest)
	for _, tc := range []struct {
		ref, wantDigest, wantTag string
	}{
		{ref: "busybox", wantTag: "docker.io/library/busybox:latest", wantDigest: "docker.io/library/busybox@" + testDigest},
		{ref: "registry.k8s.io/pause:3.10.1", wantTag: "registry.k8s.io/pause:3.10.1", wantDigest: "registry.k8s.io/pause@" + testDigest},
		// By digest: no tag, and the repo digest is the one asked for (an
		// index's, when the manifest pulled is a platform's).
		{ref: "busybox@" + testID, wantDigest: "docker.io/library/busybox@" + testID},
	} {
		named, err := Normalize(tc.ref)
		if err != nil {
			t.Fatal(err)
		}
		gotDigest, gotTag := repoDigestAndTag(named, manifest)
		if gotDigest != tc.wantDigest || gotTag != tc.wantTag {
			t.Errorf("%s: got (%q, %q), want (%q, %q)", tc.ref, gotDigest, gotTag, tc.wantDigest, tc.wantTag)
		}
	}
}

func TestSplitReferences(t *testing.T) {
	tags, digests := splitReferences([]string{
		testID,
		"docker.io/library/busybox@" + testDigest,
		"registry.k8s.io/pause:3.9",
		"docker.io/library/busybox:latest",
		"not a reference",
	})
	if want := []string{"docker.io/library/busybox:latest", "registry.k8s.io/pause:3.9"}; !slices.Equal(tags, want) {
		t.Errorf("tags = %v, want %v", tags, want)
	}
	if want := []string{"docker.io/library/busybox@" + testDigest}; !slices.Equal(digests, want) {
		t.Errorf("digests = %v, want %v", digests, want)
	}
}

func TestIDPrefix(t *testing.T) {
	for in, want := range map[string]string{
		"4a5b6c":        "4a5b6c",
		"sha256:4a5b6c": "4a5b6c",
		"busybox":       "",
		"sha256:":       "",
		"":              "",
		"4A5B":          "",
		testID:          testID[len("sha256:"):],
		testID + "0":    "",
	} {
		if got := idPrefix(in); got != want {
			t.Errorf("idPrefix(%q) = %q, want %q", in, got, want)
		}
	}
}
