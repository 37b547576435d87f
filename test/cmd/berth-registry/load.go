package main

import (
	"context"
	"fmt"
	"sort"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/berth-cri/berth/test/images"
)

// loaded says what loadLayout served.
type loaded struct {
	hosts []string
	refs  int
}

// localRef is where upstream reference ref is served on the registry at
// addr: same repository path and tag, host replaced.
func localRef(ref, addr string) (name.Tag, error) {
	up, err := name.NewTag(ref, name.StrictValidation)
	if err != nil {
		return name.Tag{}, fmt.Errorf("reference %q: %w", ref, err)
	}
	local, err := name.NewTag(addr+"/"+up.RepositoryStr()+":"+up.TagStr(), name.Insecure)
	if err != nil {
		return name.Tag{}, fmt.Errorf("local name for %q: %w", ref, err)
	}
	return local, nil
}

// loadLayouts pushes every image of the layouts to the registry at addr.
// Two upstream names that map to the same repository and tag must be the
// same image, in one layout or across two (registry.k8s.io/pause:3.9 and
// k8s.gcr.io/pause:3.9 are); anything else would serve one of them
// wrongly, so it is an error.
func loadLayouts(ctx context.Context, layoutDirs []string, addr string, creds credentials) (loaded, error) {
	opts := []remote.Option{remote.WithContext(ctx)}
	if creds.enabled() {
		opts = append(opts, remote.WithAuth(&authn.Basic{Username: creds.user, Password: creds.password}))
	}

	served := map[string]string{} // local name -> digest
	from := map[string]string{}   // local name -> upstream name
	hosts := map[string]bool{}
	refs := 0
	for _, layoutDir := range layoutDirs {
		imgs, err := images.ReadLayout(layoutDir)
		if err != nil {
			return loaded{}, err
		}
		if len(imgs) == 0 {
			return loaded{}, fmt.Errorf("layout %s holds no images", layoutDir)
		}
		refs += len(imgs)
		for _, li := range imgs {
			local, err := localRef(li.Ref, addr)
			if err != nil {
				return loaded{}, err
			}
			digest, err := li.Img.Digest()
			if err != nil {
				return loaded{}, fmt.Errorf("digest of %s: %w", li.Ref, err)
			}
			up, _ := name.NewTag(li.Ref, name.StrictValidation) // localRef parsed it already
			hosts[up.RegistryStr()] = true
			key := local.String()
			if prev, ok := served[key]; ok {
				if prev != digest.String() {
					return loaded{}, fmt.Errorf("%s and %s are different images but both would be served as %s",
						from[key], li.Ref, local.RepositoryStr()+":"+local.TagStr())
				}
				continue
			}
			if err := remote.Write(local, li.Img, opts...); err != nil {
				return loaded{}, fmt.Errorf("pushing %s: %w", li.Ref, err)
			}
			served[key], from[key] = digest.String(), li.Ref
		}
	}

	var hostList []string
	for h := range hosts {
		hostList = append(hostList, h)
	}
	sort.Strings(hostList)
	return loaded{hosts: hostList, refs: refs}, nil
}
