package main

import (
	"context"
	"errors"
	"io"
	"log"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/containerd/containerd/v2/core/remotes/docker"
	hostsconfig "github.com/containerd/containerd/v2/core/remotes/docker/config"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/berth-cri/berth/test/images"
)

// testLayout writes a layout holding one image per entry of refs (each
// entry may name one image several times) and returns its directory and
// the images.
func testLayout(t *testing.T, refs ...[]string) (string, []v1.Image) {
	t.Helper()
	var built []images.Built
	var imgs []v1.Image
	for _, r := range refs {
		img, err := random.Image(512, 2)
		if err != nil {
			t.Fatal(err)
		}
		built = append(built, images.Built{Image: images.Image{Refs: r}, Img: img})
		imgs = append(imgs, img)
	}
	dir := filepath.Join(t.TempDir(), "layout")
	if err := images.WriteLayout(dir, built); err != nil {
		t.Fatal(err)
	}
	return dir, imgs
}

func startForTest(t *testing.T, layoutDir string, creds credentials) *server {
	t.Helper()
	srv, err := start(context.Background(), config{
		addr: "127.0.0.1:0", layoutDirs: []string{layoutDir}, creds: creds,
		log: log.New(io.Discard, "", 0),
	})
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(srv.close)
	return srv
}

func pull(t *testing.T, ref string, opts ...remote.Option) (v1.Image, error) {
	t.Helper()
	tag, err := name.NewTag(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	return remote.Image(tag, opts...)
}

func sameDigest(t *testing.T, got, want v1.Image) {
	t.Helper()
	gd, err := got.Digest()
	if err != nil {
		t.Fatal(err)
	}
	wd, err := want.Digest()
	if err != nil {
		t.Fatal(err)
	}
	if gd != wd {
		t.Fatalf("served digest %s, layout has %s", gd, wd)
	}
}

func TestServesLayoutUnderUpstreamRepositoryPaths(t *testing.T) {
	dir, imgs := testLayout(t,
		[]string{"registry.k8s.io/e2e-test-images/busybox:1.29-2"},
		[]string{"registry.k8s.io/pause:3.9", "k8s.gcr.io/pause:3.9"},
		[]string{"gcr.io/k8s-staging-cri-tools/test-image-tags:1", "gcr.io/k8s-staging-cri-tools/test-image-tags:2"},
	)
	srv := startForTest(t, dir, credentials{})
	if got, want := strings.Join(srv.hosts, ","), "gcr.io,k8s.gcr.io,registry.k8s.io"; got != want {
		t.Errorf("hosts %q, want %q", got, want)
	}

	for _, tc := range []struct {
		path string
		want v1.Image
	}{
		{"e2e-test-images/busybox:1.29-2", imgs[0]},
		{"pause:3.9", imgs[1]},
		{"k8s-staging-cri-tools/test-image-tags:1", imgs[2]},
		{"k8s-staging-cri-tools/test-image-tags:2", imgs[2]},
	} {
		t.Run(tc.path, func(t *testing.T) {
			img, err := pull(t, srv.addr()+"/"+tc.path)
			if err != nil {
				t.Fatalf("pulling: %v", err)
			}
			sameDigest(t, img, tc.want)
			// The config and every layer must come back whole.
			if _, err := img.ConfigFile(); err != nil {
				t.Fatalf("config: %v", err)
			}
			layers, err := img.Layers()
			if err != nil {
				t.Fatal(err)
			}
			for _, l := range layers {
				rc, err := l.Compressed()
				if err != nil {
					t.Fatal(err)
				}
				if _, err := io.Copy(io.Discard, rc); err != nil {
					t.Fatalf("layer: %v", err)
				}
				rc.Close()
			}
		})
	}

	if _, err := pull(t, srv.addr()+"/e2e-test-images/busybox:no-such-tag"); !isStatus(err, http.StatusNotFound) {
		t.Fatalf("pulling a tag the layout lacks: %v, want 404", err)
	}
}

func isStatus(err error, code int) bool {
	var terr *transport.Error
	return errors.As(err, &terr) && terr.StatusCode == code
}

func TestBasicAuth(t *testing.T) {
	dir, imgs := testLayout(t, []string{"registry.k8s.io/e2e-test-images/busybox:1.29-2"})
	srv := startForTest(t, dir, credentials{user: "berth", password: "s3cret"})
	ref := srv.addr() + "/e2e-test-images/busybox:1.29-2"

	for _, tc := range []struct {
		name string
		auth authn.Authenticator
		ok   bool
	}{
		{"anonymous", authn.Anonymous, false},
		{"wrong password", &authn.Basic{Username: "berth", Password: "nope"}, false},
		{"wrong user", &authn.Basic{Username: "root", Password: "s3cret"}, false},
		{"right credentials", &authn.Basic{Username: "berth", Password: "s3cret"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			img, err := pull(t, ref, remote.WithAuth(tc.auth))
			if !tc.ok {
				if !isStatus(err, http.StatusUnauthorized) {
					t.Fatalf("got %v, want 401 Unauthorized", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("pulling with credentials: %v", err)
			}
			sameDigest(t, img, imgs[0])
		})
	}
}

func TestRefusesTwoImagesUnderOneName(t *testing.T) {
	// Both names map to repository "pause", tag "3.9" on the local registry.
	dir, _ := testLayout(t, []string{"registry.k8s.io/pause:3.9"}, []string{"k8s.gcr.io/pause:3.9"})
	_, err := start(context.Background(), config{addr: "127.0.0.1:0", layoutDirs: []string{dir}, log: log.New(io.Discard, "", 0)})
	if err == nil || !strings.Contains(err.Error(), "different images") {
		t.Fatalf("start = %v, want an error about different images under one name", err)
	}
}

// Two layouts, the critest set and the e2e suites' set in the cluster run,
// are served side by side; one name in both must be one image.
func TestServesTwoLayouts(t *testing.T) {
	critest, cimgs := testLayout(t, []string{"registry.k8s.io/pause:3.10.1"})
	e2e, eimgs := testLayout(t, []string{"registry.k8s.io/e2e-test-images/agnhost:2.66.1"})
	srv, err := start(context.Background(), config{
		addr: "127.0.0.1:0", layoutDirs: []string{critest, e2e}, log: log.New(io.Discard, "", 0),
	})
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(srv.close)
	for path, want := range map[string]v1.Image{"pause:3.10.1": cimgs[0], "e2e-test-images/agnhost:2.66.1": eimgs[0]} {
		img, err := pull(t, srv.addr()+"/"+path)
		if err != nil {
			t.Fatalf("pulling %s: %v", path, err)
		}
		sameDigest(t, img, want)
	}
	if srv.refs != 2 {
		t.Errorf("refs %d, want 2", srv.refs)
	}

	other, _ := testLayout(t, []string{"registry.k8s.io/pause:3.10.1"})
	_, err = start(context.Background(), config{
		addr: "127.0.0.1:0", layoutDirs: []string{critest, other}, log: log.New(io.Discard, "", 0),
	})
	if err == nil || !strings.Contains(err.Error(), "different images") {
		t.Fatalf("start with one name in two layouts as two images = %v, want an error about different images", err)
	}
}

// TestRunWritesAddressAndHostsContainerdReads runs the command's main loop
// and reads its hosts directory with containerd's own resolver config, as
// berthd will.
func TestRunWritesAddressAndHostsContainerdReads(t *testing.T) {
	dir, _ := testLayout(t, []string{"registry.k8s.io/e2e-test-images/busybox:1.29-2"})
	work := t.TempDir()
	addrFile := filepath.Join(work, "addr")
	hostsDir := filepath.Join(work, "certs.d")
	o := &options{
		addr: "127.0.0.1:0", addrFile: addrFile, layoutDirs: []string{dir}, hostsDir: hostsDir,
		extraHosts: defaultHosts, quiet: true,
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- o.run(ctx, io.Discard, io.Discard) }()
	t.Cleanup(func() {
		cancel()
		<-done //nolint:errcheck // stopped by the cancel above; how it ended is not the subject
	})

	var addr string
	deadline := time.Now().Add(10 * time.Second)
	for addr == "" {
		select {
		case err := <-done:
			t.Fatalf("run ended early: %v", err)
		default:
		}
		if b, err := os.ReadFile(addrFile); err == nil {
			addr = strings.TrimSpace(string(b))
		} else if time.Now().After(deadline) {
			t.Fatal("no address file after 10s")
		} else {
			time.Sleep(20 * time.Millisecond)
		}
	}
	if !strings.HasPrefix(addr, "127.0.0.1:") || strings.HasSuffix(addr, ":0") {
		t.Fatalf("address file holds %q, want 127.0.0.1 and the chosen port", addr)
	}

	configure := hostsconfig.ConfigureHosts(context.Background(), hostsconfig.HostOptions{
		HostDir: hostsconfig.HostDirFromRoot(hostsDir),
	})
	for _, host := range []string{"registry.k8s.io", "docker.io", "quay.io", "public.ecr.aws", "k8s.gcr.io"} {
		t.Run(host, func(t *testing.T) {
			regs, err := configure(host)
			if err != nil {
				t.Fatal(err)
			}
			if len(regs) == 0 {
				t.Fatal("no registry hosts")
			}
			for _, r := range regs {
				if r.Host != addr || r.Scheme != "http" || r.Path != "/v2" {
					t.Errorf("%s resolves to %s://%s%s, want only http://%s/v2", host, r.Scheme, r.Host, r.Path, addr)
				}
				if r.Capabilities&docker.HostCapabilityPull == 0 || r.Capabilities&docker.HostCapabilityResolve == 0 {
					t.Errorf("%s: capabilities %v lack pull and resolve", host, r.Capabilities)
				}
			}
		})
	}

	if _, err := pull(t, addr+"/e2e-test-images/busybox:1.29-2"); err != nil {
		t.Fatalf("pulling from the running registry: %v", err)
	}

	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run after cancel: %v", err)
	}
	done <- nil // for the cleanup
	if _, err := os.Stat(addrFile); !os.IsNotExist(err) {
		t.Fatalf("address file left behind after stop (stat: %v)", err)
	}
}
