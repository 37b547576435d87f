package images

import (
	"fmt"
	"os"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// The node e2e set: the images Kubernetes v1.37.2's node conformance suite
// (test/e2e_node focused on [NodeConformance]) runs, under the names of
// test/utils/image/manifest.go. hack/e2e-node-images.sh builds them into
// an output of their own; the critest catalogue above is unchanged by them.

// E2ENodePauseRef is the pause image the suite names (imageutils.Pause).
// berthd's own sandbox image stays PauseRef; the suite only runs this one
// as an ordinary container.
const E2ENodePauseRef = "registry.k8s.io/pause:3.10.2"

// E2ENodePrograms are the programs the node e2e set carries besides
// Programs: agnhost, built from k8s.io/kubernetes/test/images/agnhost at
// the suite's version by hack/e2e-node-build.sh, and nmeter
// (test/images/cmd/nmeter), busybox's applet that Debian's busybox lacks,
// and curl (test/images/cmd/curl), a GET-only stand-in for the curl of
// upstream's Alpine-based agnhost.
var E2ENodePrograms = []string{"agnhost", "nmeter", "curl"}

// E2ENodeFiles are plain files the node e2e set copies from BinDir:
// agnhost's test certificate for 127.0.0.1/localhost, which the upstream
// image carries at the root for netexec's TLS mode (lifecycle hook and
// probe specs over HTTPS).
var E2ENodeFiles = []string{"localhost.crt", "localhost.key"}

// E2ENodeDebs are the Debian packages the node e2e set is made from:
// those of the busybox base, and bash for the specs that run agnhost's
// /bin/bash (upstream's agnhost is Alpine with bash).
var E2ENodeDebs = []string{"busybox", "libc6", "util-linux", "bash", "libtinfo6"}

// Sets are the catalogues build-images knows, by name.
var Sets = map[string]func(arch string) []Image{
	"critest":  Catalog,
	"e2e-node": E2ENodeCatalog,
}

// E2ENodeCatalog lists the images of the node e2e set.
func E2ENodeCatalog(string) []Image {
	return []Image{
		{
			Refs:     []string{E2ENodePauseRef},
			Contents: "as pause:3.10.1 (berth-pause, user 65535:65535), its own image ID",
			UsedBy:   "node e2e: imageutils.Pause (pods that only need a process that waits)",
			build:    pauseImage(),
		},
		{
			Refs:     []string{e2eImages + "busybox:1.37.0-2"},
			Contents: "busybox base + `/bin/nmeter` (test/images/cmd/nmeter: `%[N]t` only); cmd `sh`",
			UsedBy:   "node e2e: the default image of most specs; the container lifecycle specs time-stamp their logs with `nmeter -d0 '%3t'`",
			build:    nmeterBusyboxImage(),
		},
		{
			Refs:     []string{e2eImages + "agnhost:2.66.1"},
			Contents: "busybox base + bash + `/usr/bin/curl` (test/images/cmd/curl: GET only) + `/bin/nmeter` + `/agnhost` (k8s.io/kubernetes/test/images/agnhost, static) and `/agnhost-2` link, `/localhost.crt` and `.key`, `/uploads`; user-defined-in-image (1000) in group-defined-in-image (50000); entrypoint `/agnhost`, cmd `pause`",
			UsedBy:   "node e2e: probes, lifecycle hooks (exec hooks run `curl http://IP:8080/echo?msg=...`), entrypoint, mounttest volumes, netexec",
			build:    agnhostImage(),
		},
		{
			Refs:     []string{e2eImages + "agnhost:2.55"},
			Contents: "as agnhost:2.66.1, its own image ID",
			UsedBy:   "node e2e: imageutils.AgnhostPrev (image update and pull specs)",
			build:    agnhostImage(),
		},
		{
			Refs:     []string{e2eImages + "nginx:1.27.0-2"},
			Contents: "as nginx:1.14-2: webserver as `/usr/sbin/nginx` on :80, `/var/run/nginx.pid`, argv `nginx: master process ...`",
			UsedBy:   "node e2e: mirror pods, pod updates, HostPID, pod templates",
			build:    nginxImage(80),
		},
		{
			Refs:     []string{e2eImages + "nonewprivs:1.4"},
			Contents: "as nonewprivs:1.3: set-user-ID-root `/usr/local/bin/nnp` printing `Effective uid: N`",
			UsedBy:   "node e2e: SecurityContext allowPrivilegeEscalation",
			build:    nnpImage(),
		},
		{
			Refs:     []string{e2eImages + "nonroot:1.5"},
			Contents: "busybox base; user 1234, as upstream's `USER 1234`",
			UsedBy:   "node e2e: SecurityContext runAsNonRoot with the image's user",
			build:    busyboxImage(func(cfg *v1.Config) { cfg.User = "1234" }),
		},
		{
			Refs:     []string{e2eImages + "glibc-dns-testing:2.1.1"},
			Contents: "busybox base (glibc-linked, so `hostname -f` resolves through glibc and /etc/hosts); cmd `sh`",
			UsedBy:   "node e2e: Hostname of Pod (FQDN), hostnameOverride",
			build:    busyboxImage(nil),
		},
	}
}

// file returns a plain file from BinDir.
func (in Inputs) file(name string) ([]byte, error) {
	data, err := os.ReadFile(filepath.Join(in.BinDir, name))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	return data, nil
}

// bash is a layer with Debian's bash and the libraries it needs beyond
// the busybox base's glibc.
func (p *parts) bash() (layerSpec, error) {
	l, err := p.layer("bash", func() (*Tree, error) {
		debs := map[string]*Tree{}
		for _, pkg := range []string{"bash", "libtinfo6", "libc6"} {
			deb, err := FindDeb(p.in.DebDir, pkg)
			if err != nil {
				return nil, err
			}
			tree, err := ReadDeb(p.ctx, deb)
			if err != nil {
				return nil, err
			}
			debs[pkg] = tree
		}
		libs := debs["libc6"]
		for _, path := range debs["libtinfo6"].Paths() {
			if err := libs.CopyFrom(debs["libtinfo6"], path); err != nil {
				return nil, err
			}
		}
		t := NewTree()
		if err := CopyWithLibs(t, debs["bash"], "bin/bash", libs); err != nil {
			return nil, fmt.Errorf("bash: %w", err)
		}
		return t, nil
	})
	return layerSpec{l, "berth: debian bash, libtinfo"}, err
}

// agnhostImage mirrors upstream's agnhost Dockerfile, on the busybox base
// instead of Alpine: the binary at the root with its agnhost-2 link (the
// entrypoint specs run that name), the TLS pair, /uploads for netexec, and
// the account of the supplemental group specs.
func agnhostImage() func(*parts) (v1.Image, error) {
	return func(p *parts) (v1.Image, error) {
		base, err := p.busybox()
		if err != nil {
			return nil, err
		}
		bash, err := p.bash()
		if err != nil {
			return nil, err
		}
		l, err := p.layer("agnhost", func() (*Tree, error) {
			data, err := p.in.program("agnhost")
			if err != nil {
				return nil, err
			}
			curl, err := p.in.program("curl")
			if err != nil {
				return nil, err
			}
			// The sidecar specs switch a container between busybox and
			// agnhost and keep its nmeter time stamps.
			nmeter, err := p.in.program("nmeter")
			if err != nil {
				return nil, err
			}
			t := NewTree()
			t.File("agnhost", 0o755, data)
			t.File("usr/bin/curl", 0o755, curl)
			t.File("bin/nmeter", 0o755, nmeter)
			t.Symlink("agnhost-2", "agnhost")
			for _, name := range E2ENodeFiles {
				data, err := p.in.file(name)
				if err != nil {
					return nil, err
				}
				t.File(name, 0o644, data)
			}
			t.Dir("uploads", 0o755)
			users := append(append([]User{}, busyboxUsers...), User{
				Name: "user-defined-in-image", UID: 1000, GID: 1000, Gecos: "Linux User,,,",
				Home: "/home/user-defined-in-image", Shell: "/bin/sh",
			})
			groups := append(append([]Group{}, busyboxGroups...),
				Group{Name: "user-defined-in-image", GID: 1000},
				Group{Name: "group-defined-in-image", GID: 50000, Members: []string{"user-defined-in-image"}},
			)
			t.File("etc/passwd", 0o644, PasswdFile(users))
			t.File("etc/group", 0o644, GroupFile(groups))
			t.Dir("home/user-defined-in-image", 0o755)
			if err := t.Chown("home/user-defined-in-image", 1000, 1000); err != nil {
				return nil, err
			}
			return t, nil
		})
		if err != nil {
			return nil, err
		}
		cfg := p.baseConfig()
		cfg.Entrypoint = []string{"/agnhost"}
		cfg.Cmd = []string{"pause"}
		cfg.ExposedPorts = map[string]struct{}{}
		for _, port := range []string{"80/tcp", "8080/tcp", "8081/tcp", "9376/tcp", "5000/tcp"} {
			cfg.ExposedPorts[port] = struct{}{}
		}
		return p.image(cfg, base, bash, layerSpec{l, "berth: ADD agnhost, curl, nmeter, localhost.crt/.key; adduser user-defined-in-image"})
	}
}

// nmeterBusyboxImage is the busybox image with the nmeter applet, as the
// upstream busybox image has it.
func nmeterBusyboxImage() func(*parts) (v1.Image, error) {
	return func(p *parts) (v1.Image, error) {
		base, err := p.busybox()
		if err != nil {
			return nil, err
		}
		nmeter, err := p.programLayer("nmeter", "bin/nmeter", 0o755, nil)
		if err != nil {
			return nil, err
		}
		cfg := p.baseConfig()
		cfg.Cmd = []string{"sh"}
		return p.image(cfg, base, nmeter)
	}
}
