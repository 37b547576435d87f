package images

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/remotes/docker"
	remoteerrors "github.com/containerd/containerd/v2/core/remotes/errors"
	"github.com/containerd/errdefs"
	"github.com/distribution/reference"
)

// maxConcurrentDownloads bounds the layers one pull downloads at once, as
// containerd's CRI plugin does by default.
const maxConcurrentDownloads = 3

// Pull pulls ref (normalised: "busybox" is docker.io/library/busybox:latest)
// for Berth's platform, through the registry hosts of hosts.toml, with
// auth; unpacks it; and names it by its ID, repo digest and repo tag.
// Concurrent pulls of one reference with the same credential share one
// download. A pull that receives nothing for the progress timeout is
// cancelled with an error that unwraps to context.DeadlineExceeded.
func (s *Service) Pull(ctx context.Context, ref string, auth Auth) (Image, error) {
	named, err := Normalize(ref)
	if err != nil {
		return Image{}, err
	}
	key := named.String() + "\x00" + auth.fingerprint()
	return s.pulls.do(s.withNamespace(ctx), key, func(ctx context.Context) (Image, error) {
		return s.pull(ctx, named, auth)
	})
}

func (s *Service) pull(ctx context.Context, named reference.Named, auth Auth) (Image, error) {
	ref := named.String()
	start := s.now()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	prog := newProgress(s.now)
	resolver := docker.NewResolver(docker.ResolverOptions{
		Hosts: registryHosts(ctx, s.hostsDir, auth, prog.updateClient),
	})
	s.log.Info("pull started", "ref", ref, "auth", auth)
	stop := prog.watch(ctx, ref, s.progressTimeout, cancel, s.log)
	pulled, err := s.client.Pull(ctx, ref,
		containerd.WithResolver(resolver),
		containerd.WithPlatformMatcher(s.platform),
		containerd.WithPullUnpack,
		containerd.WithPullSnapshotter(s.snapshotter),
		containerd.WithPullLabels(s.labels(ref, false)),
		containerd.WithImageHandlerWrapper(prog.wrapHandler),
		containerd.WithMaxConcurrentDownloads(maxConcurrentDownloads),
	)
	stop()
	if err != nil {
		if cause := context.Cause(ctx); errorsIsStall(cause) {
			return Image{}, cause
		}
		return Image{}, pullError(ref, auth, err)
	}

	img, err := s.inspect(ctx, pulled.Metadata())
	if err != nil {
		return Image{}, err
	}
	repoDigest, repoTag := repoDigestAndTag(named, pulled.Target().Digest)
	for _, n := range []string{img.ID, repoTag, repoDigest} {
		if n == "" {
			continue
		}
		labels, err := s.putNameLabels(ctx, n, pulled.Target(), s.labels(n, false))
		if err != nil {
			return Image{}, fmt.Errorf("name image %s as %s: %w", img.ID, n, err)
		}
		// Every name points at the image inspected above: index it as is,
		// rather than reading it back from containerd once per name.
		s.store.set(n, img, labels[LabelPinned] == valuePinned)
	}
	s.log.Info("pulled image", "ref", ref, "id", img.ID, "size", img.Size, "received", prog.bytes.Load(),
		"layers_fetched", prog.layersString(), "took", s.now().Sub(start).Round(time.Millisecond))
	if got, ok := s.store.get(img.ID); ok {
		return got, nil
	}
	return img, nil
}

// pullError says what went wrong in terms a user acts on. A refused
// credential becomes Unauthenticated (or PermissionDenied), whatever
// containerd's resolver made of it; other errors keep their class
// (NotFound for an unknown image or tag).
func pullError(ref string, auth Auth, err error) error {
	status := 0
	var unexpected remoteerrors.ErrUnexpectedStatus
	if errors.As(err, &unexpected) {
		status = unexpected.StatusCode
	}
	switch {
	case errors.Is(err, docker.ErrInvalidAuthorization) || status == http.StatusUnauthorized:
		if auth.IsZero() {
			return fmt.Errorf("pull image %q: the registry requires credentials and none were given: %v: %w", ref, err, errdefs.ErrUnauthenticated)
		}
		return fmt.Errorf("pull image %q: the registry rejected the credentials (%s): %v: %w", ref, auth, err, errdefs.ErrUnauthenticated)
	case status == http.StatusForbidden:
		return fmt.Errorf("pull image %q: the registry denied access (%s): %v: %w", ref, auth, err, errdefs.ErrPermissionDenied)
	}
	return fmt.Errorf("pull image %q: %w", ref, err)
}
