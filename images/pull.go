package images

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/containerd/containerd/v2/core/images"
	"github.com/containerd/containerd/v2/core/remotes/docker"
	remoteerrors "github.com/containerd/containerd/v2/core/remotes/errors"
	streamproxy "github.com/containerd/containerd/v2/core/streaming/proxy"
	"github.com/containerd/containerd/v2/core/transfer"
	transferimage "github.com/containerd/containerd/v2/core/transfer/image"
	"github.com/containerd/containerd/v2/core/transfer/proxy"
	"github.com/containerd/containerd/v2/core/transfer/registry"
	"github.com/containerd/errdefs"
	"github.com/distribution/reference"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

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

// pull runs in containerd's transfer service: containerd fetches the
// blobs, writes them to its content store and unpacks them in-process, as
// its own CRI plugin does, where a client-side pull would stream every
// blob through Berth and drive each unpack step by a round trip. Berth
// sends the request, answers credential requests, watches the progress
// events, and names and indexes the image afterwards.
func (s *Service) pull(ctx context.Context, named reference.Named, auth Auth) (Image, error) {
	ref := named.String()
	start := s.now()
	src, err := registrySource(ctx, named, s.hostsDir, auth)
	if err != nil {
		return Image{}, fmt.Errorf("pull image %q: %w", ref, err)
	}
	dst := transferimage.NewStore(ref,
		transferimage.WithPlatforms(s.platformSpec),
		transferimage.WithUnpack(s.platformSpec, s.snapshotter),
		transferimage.WithImageLabels(s.labels(ref, false)),
	)

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	prog := newProgress(s.now, func() bool { return s.pulls.running() <= 1 })
	s.log.Info("pull started", "ref", ref, "auth", auth)
	stop := prog.watch(ctx, ref, s.progressTimeout, cancel, s.log)
	err = s.transfer(ctx, src, dst, transfer.WithProgress(prog.update))
	stop()
	if err != nil {
		if cause := context.Cause(ctx); errorsIsStall(cause) {
			return Image{}, cause
		}
		return Image{}, pullError(ref, auth, diagnose(ctx, src, err))
	}

	ci, err := s.transferred(ctx, ref, prog)
	if err != nil {
		return Image{}, fmt.Errorf("pull image %q: read it back: %w", ref, err)
	}
	// Each name is a database commit in containerd, about as long as
	// inspect's reads: the names that need only the target are written
	// while inspect runs, the ID name (the config's digest) with the unpack
	// check after it. A manifest pulled before is not read again
	// (inspectedMemo): all its names are written at once.
	repoDigest, repoTag := repoDigestAndTag(named, ci.Target.Digest)
	img, known := s.inspected.get(ci.Target.Digest)
	names := []string{repoTag, repoDigest}
	if known {
		names = append(names, img.ID)
	}
	early := s.putNamesAsync(ctx, ci.Target, ref, names...)
	late := func() (map[string]map[string]string, error) { return nil, nil }
	if !known {
		if img, err = s.inspect(ctx, ci); err != nil {
			_, _ = early() // wait for the names; the inspect error is the one to report
			return Image{}, err
		}
		s.inspected.put(ci.Target.Digest, img)
		late = s.putNamesAsync(ctx, ci.Target, ref, img.ID)
	}
	img.Target = ci.Target
	unpackErr := s.ensureUnpacked(ctx, ci, img)
	earlyLabels, earlyErr := early()
	lateLabels, lateErr := late()
	if err := errors.Join(unpackErr, earlyErr, lateErr); err != nil {
		return Image{}, fmt.Errorf("pull image %q: %w", ref, err)
	}
	// Every name points at the image inspected above: index it as is,
	// rather than reading it back from containerd once per name.
	s.indexed(ref, img, ci.Labels[LabelPinned] == valuePinned) // named by the transfer
	for _, labels := range []map[string]map[string]string{earlyLabels, lateLabels} {
		for n, l := range labels {
			s.indexed(n, img, l[LabelPinned] == valuePinned)
		}
	}
	prog.finish()
	bytes, layers := prog.summary()
	s.log.Info("pulled image", "ref", ref, "id", img.ID, "size", img.Size, "received", bytes,
		"layers_fetched", layers, "took", s.now().Sub(start).Round(time.Millisecond))
	if got, ok := s.store.get(img.ID); ok {
		return got, nil
	}
	return img, nil
}

// transferred is the image the transfer wrote under ref: from its "saved"
// progress event, with the labels the transfer was given, or, when that
// event has not arrived yet, read back from containerd.
func (s *Service) transferred(ctx context.Context, ref string, prog *progress) (images.Image, error) {
	if target, ok := prog.savedTarget(ref); ok {
		return images.Image{Name: ref, Target: target, Labels: s.labels(ref, false)}, nil
	}
	return s.client.ImageService().Get(ctx, ref)
}

// putNamesAsync creates or moves the image names other than ref (which
// the transfer named) and the empty one, at the same time, and returns a
// function that waits for them and says their labels.
func (s *Service) putNamesAsync(ctx context.Context, target ocispec.Descriptor, ref string, names ...string) func() (map[string]map[string]string, error) {
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		labels = map[string]map[string]string{}
		errs   []error
	)
	for _, n := range names {
		if n == "" || n == ref {
			continue
		}
		wg.Go(func() {
			l, err := s.putNameLabels(ctx, n, target, s.labels(n, false))
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, fmt.Errorf("name the image %s: %w", n, err))
				return
			}
			labels[n] = l
		})
	}
	return func() (map[string]map[string]string, error) {
		wg.Wait()
		return labels, errors.Join(errs...)
	}
}

// transfer runs a transfer in containerd without the lease client.Transfer
// would take first: one round trip less to take it and one to release it.
// containerd's transfer service takes its own, in-process, for the
// transfer, and releases it even when the transfer is cancelled (a lease
// of Berth's would need a round trip then); once the image is named, the
// name holds what the pull wrote.
func (s *Service) transfer(ctx context.Context, src, dst any, opts ...transfer.Opt) error {
	conn := s.client.Conn()
	return proxy.NewTransferrer(conn, streamproxy.NewStreamCreator(conn)).Transfer(ctx, src, dst, opts...)
}

// ensureUnpacked unpacks an image the transfer service left packed: one
// whose platform and snapshotter its unpack_config does not list (an
// operator's own containerd). Berth's own containerd unpacks every pull
// (TransferUnpacks), and is not asked.
func (s *Service) ensureUnpacked(ctx context.Context, ci images.Image, img Image) error {
	if s.transferUnpacks {
		return nil
	}
	_, err := s.client.SnapshotService(s.snapshotter).Stat(ctx, img.ChainID.String())
	if err == nil || !errdefs.IsNotFound(err) {
		return err
	}
	s.log.Warn("containerd's transfer service did not unpack the image; unpacking it from Berth (list the platform and snapshotter in its unpack_config)",
		"ref", ci.Name, "snapshotter", s.snapshotter)
	return s.unpack(ctx, ci)
}

// diagnose gives a failed transfer's error its type back. The transfer
// service's errors reach Berth through gRPC as a class and a message, and a
// registry's refusal has no class (a 401 or 403 arrives as Unknown). Berth
// then resolves the reference itself, through the same hosts with the same
// credentials, which fails with the typed error pullError reads. It costs
// nothing when the pull succeeds; a refusal of a blob but not of the
// manifest stays Unknown.
func diagnose(ctx context.Context, src *registry.OCIRegistry, err error) error {
	if !errdefs.IsUnknown(err) || ctx.Err() != nil {
		return err
	}
	if _, _, rerr := src.Resolve(ctx); rerr != nil {
		return rerr
	}
	return err
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
