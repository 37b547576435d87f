package images

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/validate"
)

// TestBuildIsReproducible builds everything a second time from the same
// inputs and expects the same bytes: same digest for every name, same
// layout files, same pause archive.
func TestBuildIsReproducible(t *testing.T) {
	first := testBuild(t)
	second, err := Build(context.Background(), testInputs(t))
	if err != nil {
		t.Fatal(err)
	}
	for i := range first {
		d1, _ := first[i].Img.Digest()
		d2, _ := second[i].Img.Digest()
		if d1 != d2 {
			t.Errorf("%s: digest %s then %s", first[i].Refs[0], d1, d2)
		}
	}

	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	if err := WriteLayout(a, first); err != nil {
		t.Fatal(err)
	}
	if err := WriteLayout(b, second); err != nil {
		t.Fatal(err)
	}
	checkLayout(t, a, first)
	filesA, filesB := readTree(t, a), readTree(t, b)
	if len(filesA) != len(filesB) {
		t.Fatalf("layouts hold %d and %d files", len(filesA), len(filesB))
	}
	for name, data := range filesA {
		if !bytes.Equal(data, filesB[name]) {
			t.Errorf("layout file %s differs between builds", name)
		}
	}

	var tarA, tarB bytes.Buffer
	pauseA, pauseB := byRef(t, first, PauseRef), byRef(t, second, PauseRef)
	if err := WriteArchive(&tarA, pauseA.Img, pauseA.Refs); err != nil {
		t.Fatal(err)
	}
	if err := WriteArchive(&tarB, pauseB.Img, pauseB.Refs); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(tarA.Bytes(), tarB.Bytes()) {
		t.Error("pause archive differs between builds")
	}
}

// checkLayout reads the layout back as a registry would serve it and
// verifies every image: manifest, config and layer digests, sizes and
// diff IDs.
func checkLayout(t *testing.T, dir string, built []Built) {
	t.Helper()
	got, err := ReadLayout(dir)
	if err != nil {
		t.Fatal(err)
	}
	var refs []string
	for _, b := range built {
		refs = append(refs, b.Refs...)
	}
	if len(got) != len(refs) {
		t.Fatalf("layout names %d images, catalogue %d", len(got), len(refs))
	}
	for i, li := range got {
		if li.Ref != refs[i] {
			t.Errorf("layout entry %d is %s, want %s", i, li.Ref, refs[i])
		}
		if err := validate.Image(li.Img); err != nil {
			t.Errorf("%s is not a valid image: %v", li.Ref, err)
		}
	}
}

func readTree(t *testing.T, root string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		files[rel] = data
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// TestImageIDs checks what critest's image specs count on: names of one
// catalogue entry are one image, and different entries are different
// images (critest lists, and removes, images by ID, which is the config
// digest).
func TestImageIDs(t *testing.T) {
	owner := map[string]string{}
	for _, b := range testBuild(t) {
		id, err := b.Img.ConfigName()
		if err != nil {
			t.Fatal(err)
		}
		if prev, ok := owner[id.String()]; ok {
			t.Errorf("%s and %s have the same image ID %s", prev, b.Refs[0], id)
		}
		owner[id.String()] = b.Refs[0]
		if cf := configOf(t, b.Img); cf.Config.Labels[LabelTestImage] != b.Refs[0] {
			t.Errorf("%s: label %s = %q", b.Refs[0], LabelTestImage, cf.Config.Labels[LabelTestImage])
		}
	}
}

// TestImageConfigs checks the config fields critest reads back through
// ImageStatus or relies on when it starts containers without a command.
func TestImageConfigs(t *testing.T) {
	built := testBuild(t)
	const tools = "gcr.io/k8s-staging-cri-tools/"
	for _, tc := range []struct {
		ref        string
		user       string
		entrypoint string
	}{
		{ref: PauseRef, user: "65535:65535", entrypoint: "/pause"},
		{ref: "registry.k8s.io/pause:3.9", user: "65535:65535", entrypoint: "/pause"},
		{ref: "registry.k8s.io/e2e-test-images/busybox:1.29-2"},
		{ref: "registry.k8s.io/e2e-test-images/nginx:1.14-2", entrypoint: "/usr/sbin/nginx"},
		{ref: "registry.k8s.io/e2e-test-images/httpd:2.4.39-4", entrypoint: "/usr/local/apache2/bin/httpd"},
		{ref: "registry.k8s.io/e2e-test-images/nonewprivs:1.3", entrypoint: "/usr/local/bin/nnp"},
		{ref: tools + "test-image-user-uid:latest", user: "1002"},
		{ref: tools + "test-image-user-username:latest", user: "www-data"},
		{ref: tools + "test-image-user-uid-group:latest", user: "1003:1004"},
		{ref: tools + "test-image-user-username-group:latest", user: "www-data:1004"},
		{ref: tools + "test-image-predefined-group:latest", user: "1000"},
	} {
		t.Run(tc.ref, func(t *testing.T) {
			cf := configOf(t, byRef(t, built, tc.ref).Img)
			if cf.OS != "linux" || cf.Architecture == "" {
				t.Errorf("platform %s/%s", cf.OS, cf.Architecture)
			}
			if cf.Config.User != tc.user {
				t.Errorf("user %q, want %q", cf.Config.User, tc.user)
			}
			got := ""
			if len(cf.Config.Entrypoint) > 0 {
				got = cf.Config.Entrypoint[0]
			}
			if got != tc.entrypoint {
				t.Errorf("entrypoint %q, want %q", got, tc.entrypoint)
			}
			if tc.entrypoint == "" && len(cf.Config.Cmd) == 0 {
				t.Error("no entrypoint and no cmd: a container without a command would not start")
			}
			if len(cf.Config.Env) == 0 || cf.Config.Env[0][:5] != "PATH=" {
				t.Errorf("env %v lacks PATH", cf.Config.Env)
			}
		})
	}
}
