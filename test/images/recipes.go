package images

import (
	"context"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// The recipes of the catalogue's images: which layers each is made of and
// its runtime configuration.

// parts builds the layers that several images share, once each.
type parts struct {
	ctx  context.Context
	in   Inputs
	ref  string // main reference of the image being built
	memo map[string]v1.Layer
}

// layer returns the memoised layer called name, building it with build.
func (p *parts) layer(name string, build func() (*Tree, error)) (v1.Layer, error) {
	if l, ok := p.memo[name]; ok {
		return l, nil
	}
	t, err := build()
	if err != nil {
		return nil, fmt.Errorf("%s layer: %w", name, err)
	}
	l, err := t.Layer()
	if err != nil {
		return nil, fmt.Errorf("%s layer: %w", name, err)
	}
	p.memo[name] = l
	return l, nil
}

func (p *parts) busybox() (layerSpec, error) {
	l, err := p.layer("busybox", func() (*Tree, error) { return busyboxTree(p.ctx, p.in) })
	return layerSpec{l, "berth: debian busybox, glibc, ipcs, pgrep, /etc"}, err
}

// programLayer is a layer holding one of our programs at dest.
func (p *parts) programLayer(name, dest string, mode int64, extra func(*Tree)) (layerSpec, error) {
	l, err := p.layer(name+":"+dest, func() (*Tree, error) {
		data, err := p.in.program(name)
		if err != nil {
			return nil, err
		}
		t := NewTree()
		t.File(dest, mode, data)
		if extra != nil {
			extra(t)
		}
		return t, nil
	})
	return layerSpec{l, fmt.Sprintf("berth: COPY %s %s", name, dest)}, err
}

// baseConfig is the runtime configuration every image starts from.
func (p *parts) baseConfig() v1.Config {
	return v1.Config{
		Env:    []string{"PATH=" + imagePath},
		Labels: map[string]string{LabelTestImage: p.ref},
	}
}

func (p *parts) image(cfg v1.Config, layers ...layerSpec) (v1.Image, error) {
	return assemble(p.in.arch(), layers, cfg)
}

func pauseImage() func(*parts) (v1.Image, error) {
	return func(p *parts) (v1.Image, error) {
		pause, err := p.programLayer("berth-pause", "pause", 0o755, nil)
		if err != nil {
			return nil, err
		}
		cfg := p.baseConfig()
		cfg.Entrypoint = []string{"/pause"}
		// As upstream's pause image: the sandbox needs no privileges.
		cfg.User = "65535:65535"
		return p.image(cfg, pause)
	}
}

func busyboxImage(edit func(*v1.Config)) func(*parts) (v1.Image, error) {
	return func(p *parts) (v1.Image, error) {
		base, err := p.busybox()
		if err != nil {
			return nil, err
		}
		cfg := p.baseConfig()
		cfg.Cmd = []string{"sh"}
		if edit != nil {
			edit(&cfg)
		}
		return p.image(cfg, base)
	}
}

// markerImage is busybox plus an empty file named marker at the root, as
// upstream's image-test Dockerfile makes them.
func markerImage(marker string) func(*parts) (v1.Image, error) {
	return func(p *parts) (v1.Image, error) {
		base, err := p.busybox()
		if err != nil {
			return nil, err
		}
		l, err := p.layer("marker:"+marker, func() (*Tree, error) {
			t := NewTree()
			t.File(marker, 0o644, nil)
			return t, nil
		})
		if err != nil {
			return nil, err
		}
		cfg := p.baseConfig()
		cfg.Cmd = []string{"sh"}
		return p.image(cfg, base, layerSpec{l, "berth: ADD " + marker + " /" + marker})
	}
}

const nginxWelcome = `<!DOCTYPE html>
<html>
<head><title>Welcome to nginx!</title></head>
<body>
<h1>Welcome to nginx!</h1>
<p>This is Berth's offline stand-in for the nginx test image.</p>
</body>
</html>
`

func nginxImage(port int) func(*parts) (v1.Image, error) {
	return func(p *parts) (v1.Image, error) {
		base, err := p.busybox()
		if err != nil {
			return nil, err
		}
		server, err := p.programLayer("webserver", "usr/sbin/nginx", 0o755, func(t *Tree) {
			t.File("usr/share/nginx/html/index.html", 0o644, []byte(nginxWelcome))
		})
		if err != nil {
			return nil, err
		}
		cfg := p.baseConfig()
		cfg.Entrypoint = []string{
			"/usr/sbin/nginx",
			"-listen", fmt.Sprintf(":%d", port),
			"-root", "/usr/share/nginx/html",
			"-pid-file", "/var/run/nginx.pid",
			"-name", "nginx",
			// critest's ContainerPID spec waits for "master process" in
			// /proc/1/cmdline, as real nginx shows it.
			"-title", "nginx: master process nginx -g daemon off;",
		}
		cfg.ExposedPorts = map[string]struct{}{fmt.Sprintf("%d/tcp", port): {}}
		return p.image(cfg, base, server)
	}
}

func httpdImage() func(*parts) (v1.Image, error) {
	return func(p *parts) (v1.Image, error) {
		base, err := p.busybox()
		if err != nil {
			return nil, err
		}
		server, err := p.programLayer("webserver", "usr/local/apache2/bin/httpd", 0o755, func(t *Tree) {
			t.File("usr/local/apache2/htdocs/index.html", 0o644, []byte("<html><body><h1>It works!</h1></body></html>\n"))
		})
		if err != nil {
			return nil, err
		}
		cfg := p.baseConfig()
		cfg.Env = []string{"PATH=/usr/local/apache2/bin:" + imagePath}
		cfg.WorkingDir = "/usr/local/apache2"
		cfg.Entrypoint = []string{
			"/usr/local/apache2/bin/httpd",
			"-listen", ":80",
			"-root", "/usr/local/apache2/htdocs",
			"-name", "httpd",
		}
		cfg.ExposedPorts = map[string]struct{}{"80/tcp": {}}
		return p.image(cfg, base, server)
	}
}

func nnpImage() func(*parts) (v1.Image, error) {
	return func(p *parts) (v1.Image, error) {
		base, err := p.busybox()
		if err != nil {
			return nil, err
		}
		nnp, err := p.programLayer("nnp", "usr/local/bin/nnp", 0o4755, nil)
		if err != nil {
			return nil, err
		}
		cfg := p.baseConfig()
		cfg.Entrypoint = []string{"/usr/local/bin/nnp"}
		return p.image(cfg, base, nnp)
	}
}

// predefinedGroupImage mirrors upstream's image-predefined-group: a user
// 1000 whose /etc/group membership (50000) the runtime must add to the
// container's supplementary groups under the Merge policy.
func predefinedGroupImage() func(*parts) (v1.Image, error) {
	return func(p *parts) (v1.Image, error) {
		base, err := p.busybox()
		if err != nil {
			return nil, err
		}
		l, err := p.layer("predefined-group", func() (*Tree, error) {
			users := append(append([]User{}, busyboxUsers...), User{
				Name: "default-user", UID: 1000, GID: 1000, Gecos: "Linux User,,,",
				Home: "/home/default-user", Shell: "/bin/sh",
			})
			groups := append(append([]Group{}, busyboxGroups...),
				Group{Name: "default-user", GID: 1000},
				Group{Name: "group-defined-in-image", GID: 50000, Members: []string{"default-user"}},
			)
			t := NewTree()
			t.File("etc/passwd", 0o644, PasswdFile(users))
			t.File("etc/group", 0o644, GroupFile(groups))
			t.Dir("home/default-user", 0o755)
			if err := t.Chown("home/default-user", 1000, 1000); err != nil {
				return nil, err
			}
			return t, nil
		})
		if err != nil {
			return nil, err
		}
		cfg := p.baseConfig()
		cfg.Cmd = []string{"sh"}
		cfg.User = "1000"
		return p.image(cfg, base, layerSpec{l, "berth: adduser default-user; addgroup group-defined-in-image"})
	}
}
