package images

import (
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Registry prefixes of the names critest v1.37.0 pulls.
const (
	e2eImages     = "registry.k8s.io/e2e-test-images/"
	criToolsImage = "gcr.io/k8s-staging-cri-tools/"
	ecrLibrary    = "public.ecr.aws/docker/library/"
)

// PauseRef is the sandbox image berthd runs and imports from the pause
// archive.
const PauseRef = "registry.k8s.io/pause:3.10.1"

// Image is one image of the catalogue.
type Image struct {
	// Refs are the names the image is published under; the first is its
	// main name. Several names mean one image under several tags.
	Refs []string
	// Contents says what is in it, for docs/test-images.md.
	Contents string
	// UsedBy names what pulls it: critest specs, or berthd.
	UsedBy string

	build func(*parts) (v1.Image, error)
}

// Catalog lists every image Berth builds for images of architecture arch,
// in the order they are written to the layout.
func Catalog(arch string) []Image {
	c := []Image{
		{
			Refs:     []string{PauseRef},
			Contents: "`/pause` (berth-pause, static); entrypoint `/pause`, user 65535:65535",
			UsedBy:   "berthd's sandbox image (also imported from `pause.tar`)",
			build:    pauseImage(),
		},
		{
			Refs:     []string{"registry.k8s.io/pause:3.9", "k8s.gcr.io/pause:3.9"},
			Contents: "same files as pause:3.10.1, different image ID (label)",
			UsedBy:   "Image Manager: removing image from one registry should remove all tags from other registries",
			build:    pauseImage(),
		},
		{
			Refs:     []string{e2eImages + "busybox:1.29-2"},
			Contents: "busybox base (below); cmd `sh`",
			UsedBy:   "the default test container image of nearly every container spec",
			build:    busyboxImage(nil),
		},
		{
			Refs:     []string{e2eImages + "nginx:1.14-2"},
			Contents: "busybox base + webserver as `/usr/sbin/nginx` on :80, welcome page, `/var/run/nginx.pid`, argv retitled `nginx: master process ...`",
			UsedBy:   "Networking port mapping, Streaming portforward, SecurityContext HostPID/PodPID/ContainerPID",
			build:    nginxImage(80),
		},
		{
			Refs:     []string{criToolsImage + "hostnet-nginx-" + arch + ":latest"},
			Contents: "as nginx:1.14-2 but listening on :12003",
			UsedBy:   "Streaming: runtime should support portforward in host network",
			build:    nginxImage(12003),
		},
		{
			Refs:     []string{e2eImages + "httpd:2.4.39-4"},
			Contents: "busybox base + webserver as `/usr/local/apache2/bin/httpd` on :80, logs `httpd: ...` at start",
			UsedBy:   "Multiple Containers: network, container log, container exec",
			build:    httpdImage(),
		},
		{
			Refs:     []string{e2eImages + "nonewprivs:1.3"},
			Contents: "busybox base + set-user-ID-root `/usr/local/bin/nnp` printing `Effective uid: N`; entrypoint nnp",
			UsedBy:   "SecurityContext NoNewPrivs",
			build:    nnpImage(),
		},
		{
			Refs:     []string{criToolsImage + "test-image-latest:latest"},
			Contents: "busybox base + empty `/test-image-latest`",
			UsedBy:   "Image Manager: public image without tag should be pulled and removed",
			build:    markerImage("test-image-latest"),
		},
		{
			Refs:     []string{criToolsImage + "test-image-tag:test"},
			Contents: "busybox base + empty `/test`",
			UsedBy:   "Image Manager (pull with tag, pull timeout), Image Consistency, Image Identifier Consistency, Image Volume",
			build:    markerImage("test"),
		},
		{
			Refs:     []string{criToolsImage + "test-image-tag:all"},
			Contents: "busybox base + empty `/all`",
			UsedBy:   "Image Manager: image status should support all kinds of references",
			build:    markerImage("all"),
		},
	}
	for i := 1; i <= 3; i++ {
		name := fmt.Sprintf("test-image-%d", i)
		c = append(c, Image{
			Refs:     []string{criToolsImage + name + ":latest"},
			Contents: "busybox base + empty `/" + name + "`",
			UsedBy:   "Image Manager: listImage should get exactly 3 image in the result list",
			build:    markerImage(name),
		})
	}
	c = append(c, Image{
		Refs: []string{
			criToolsImage + "test-image-tags:1",
			criToolsImage + "test-image-tags:2",
			criToolsImage + "test-image-tags:3",
		},
		Contents: "busybox base + empty `/same-image`; one image, three tags",
		UsedBy:   "Image Manager: listImage should get exactly 3 repoTags; removing image by one tag should remove all tags",
		build:    markerImage("same-image"),
	})
	for _, u := range []struct{ name, user string }{
		{"test-image-user-uid", "1002"},
		{"test-image-user-username", "www-data"},
		{"test-image-user-uid-group", "1003:1004"},
		{"test-image-user-username-group", "www-data:1004"},
	} {
		user := u.user
		c = append(c, Image{
			Refs:     []string{criToolsImage + u.name + ":latest"},
			Contents: "busybox base; config user `" + user + "`",
			UsedBy:   "Image Manager: image status get image fields should not have Uid|Username empty",
			build:    busyboxImage(func(cfg *v1.Config) { cfg.User = user }),
		})
	}
	c = append(c, Image{
		Refs:     []string{criToolsImage + "test-image-predefined-group:latest"},
		Contents: "busybox base + `default-user` (1000:1000) in `group-defined-in-image` (50000); user 1000",
		UsedBy:   "SecurityContext SupplementalGroupsPolicy, Image Volume subPath",
		build:    predefinedGroupImage(),
	})
	for _, tag := range []string{"1.35.0-glibc", "1-uclibc", "1", "1-glibc", "1-musl"} {
		c = append(c, Image{
			Refs:     []string{ecrLibrary + "busybox:" + tag},
			Contents: "busybox base; cmd `sh` (glibc whatever the tag says)",
			UsedBy:   "critest -benchmark: image listing",
			build:    busyboxImage(nil),
		})
	}
	return c
}

// DigestRefGaps are the references critest v1.37.0 pulls by digest on
// Linux. A digest names exact bytes that only the upstream build has, so
// these cannot be served offline.
var DigestRefGaps = []string{
	criToolsImage + "test-image-digest@sha256:9700f9a2f5bf2c45f2f605a0bd3bce7cf37420ec9d3ed50ac2758413308766bf",
}
