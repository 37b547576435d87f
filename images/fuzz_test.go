package images

import "testing"

// FuzzNormalize checks reference normalisation (PullImage, ImageStatus,
// RemoveImage all start with it): no panic, and a normalised reference
// normalises to itself.
func FuzzNormalize(f *testing.F) {
	for _, seed := range []string{
		"busybox", "busybox:1.36", "docker.io/library/busybox:latest",
		"registry.k8s.io/e2e-test-images/busybox:1.29-2", "localhost:5000/a/b@sha256:9700f9a2f5bf2c45f2f605a0bd3bce7cf37420ec9d3ed50ac2758413308766bf",
		"sha256:9700f9a2f5bf2c45f2f605a0bd3bce7cf37420ec9d3ed50ac2758413308766bf", "UPPER/case", "a//b", ":tag", "",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, ref string) {
		named, err := Normalize(ref)
		if err != nil {
			return
		}
		again, err := Normalize(named.String())
		if err != nil || again.String() != named.String() {
			t.Fatalf("Normalize(%q) = %q, but that normalises to %v, %v", ref, named, again, err)
		}
	})
}
