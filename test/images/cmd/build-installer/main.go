// Command build-installer builds the DaemonSet installer's image
// (deploy/kubernetes) from a build context staged by `make
// installer-context`, with Berth's own image tooling (no Docker), and
// pushes it to a registry over plain HTTP (the loopback test registry,
// berth-registry) or writes it to an OCI image layout.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/spf13/cobra"

	"github.com/berth-cri/berth/test/images"
)

type options struct {
	debDir     string
	binDir     string
	contextDir string
	ref        string
	push       string
	layoutDir  string
}

func main() {
	if err := newCommand(os.Stdout).Execute(); err != nil {
		os.Exit(1)
	}
}

func newCommand(stdout io.Writer) *cobra.Command {
	o := &options{}
	cmd := &cobra.Command{
		Use:          "build-installer",
		Short:        "Build the DaemonSet installer's image and push it to a plain-HTTP registry",
		Args:         cobra.NoArgs,
		SilenceUsage: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.contextDir == "" || o.ref == "" || (o.push == "") == (o.layoutDir == "") {
				return fmt.Errorf("--context, --ref and one of --push or --layout are needed")
			}
			return o.run(cmd.Context(), stdout)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.debDir, "debs", "_output/installer/debs", "directory holding the .debs: "+fmt.Sprint(images.InstallerDebs))
	f.StringVar(&o.binDir, "bins", "_output/images/bin", "directory holding the test images' static programs (the busybox base carries pgrep)")
	f.StringVar(&o.contextDir, "context", "_output/installer", "the staged build context (make installer-context)")
	f.StringVar(&o.ref, "ref", "", "the image's name, as the DaemonSet names it (docker.io/library/berth-installer:0.1.0)")
	f.StringVar(&o.push, "push", "", "host:port of a plain-HTTP registry to push to, under ref's repository path")
	f.StringVar(&o.layoutDir, "layout", "", "OCI image layout to add the image to instead")
	return cmd
}

func (o *options) run(ctx context.Context, stdout io.Writer) error {
	tag, err := name.NewTag(o.ref, name.StrictValidation)
	if err != nil {
		return fmt.Errorf("--ref: %w", err)
	}
	img, err := images.InstallerImage(ctx, images.Inputs{DebDir: o.debDir, BinDir: o.binDir, Arch: runtime.GOARCH}, o.contextDir, tag.String())
	if err != nil {
		return err
	}
	digest, err := img.Digest()
	if err != nil {
		return err
	}
	if o.layoutDir != "" {
		p, err := layout.FromPath(o.layoutDir)
		if err != nil {
			if p, err = layout.Write(o.layoutDir, empty.Index); err != nil {
				return err
			}
		}
		if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": tag.String()})); err != nil {
			return err
		}
	} else {
		// The registry serves the upstream repository path without the host.
		dst, err := name.NewTag(o.push+"/"+tag.RepositoryStr()+":"+tag.TagStr(), name.Insecure)
		if err != nil {
			return err
		}
		if err := remote.Write(dst, img, remote.WithContext(ctx)); err != nil {
			return fmt.Errorf("push %s: %w", dst, err)
		}
	}
	fmt.Fprintf(stdout, "%s %s\n", digest, tag)
	return nil
}
