package images

import (
	"fmt"
	"sort"
	"strings"

	"github.com/containerd/errdefs"
	"github.com/distribution/reference"
	"github.com/opencontainers/go-digest"
)

// Normalize parses an image reference the way kubelet and docker read
// it: a name without a registry is on docker.io, a docker.io name without
// a path is under library/, and a name without tag or digest means
// :latest. "busybox" is docker.io/library/busybox:latest. A reference with
// both a tag and a digest keeps only the digest, which is what is pulled.
func Normalize(ref string) (reference.Named, error) {
	if ref == "" {
		return nil, fmt.Errorf("empty image reference: %w", errdefs.ErrInvalidArgument)
	}
	named, err := reference.ParseDockerRef(ref)
	if err != nil {
		return nil, fmt.Errorf("invalid image reference %q: %v: %w", ref, err, errdefs.ErrInvalidArgument)
	}
	return named, nil
}

// repoDigestAndTag returns the names an image pulled as named is kept
// under besides its ID: the repo digest (name@manifest-digest) always, the
// repo tag when named has a tag.
func repoDigestAndTag(named reference.Named, manifest digest.Digest) (repoDigest, repoTag string) {
	if tagged, ok := named.(reference.NamedTagged); ok {
		repoTag = tagged.String()
	}
	if canonical, ok := named.(reference.Canonical); ok {
		return canonical.String(), repoTag
	}
	return named.Name() + "@" + manifest.String(), repoTag
}

// splitReferences sorts containerd image names into CRI repo tags
// (name:tag) and repo digests (name@digest), both sorted. ID names
// ("sha256:...") are neither and are left out.
func splitReferences(names []string) (tags, digests []string) {
	for _, n := range names {
		if isID(n) {
			continue
		}
		parsed, err := reference.ParseNormalizedNamed(n)
		if err != nil {
			continue
		}
		switch parsed.(type) {
		case reference.Canonical:
			digests = append(digests, parsed.String())
		case reference.NamedTagged:
			tags = append(tags, parsed.String())
		}
	}
	sort.Strings(tags)
	sort.Strings(digests)
	return tags, digests
}

// isID reports whether s is a full image ID: an algorithm-prefixed
// digest such as "sha256:<64 hex>".
func isID(s string) bool {
	_, err := digest.Parse(s)
	return err == nil
}

// idPrefix returns the hex of an abbreviated image ID ("3f2a", or
// "sha256:3f2a"), as docker and crictl accept, or "" when s is not one.
func idPrefix(s string) string {
	hex := strings.TrimPrefix(s, digest.SHA256.String()+":")
	if hex == "" || len(hex) > 64 {
		return ""
	}
	for _, c := range hex {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return ""
		}
	}
	return hex
}
