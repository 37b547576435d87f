// Command build-images builds Berth's offline test images into an OCI
// image layout, and the pause image alone into an OCI archive that berthd
// imports. It needs the .debs and static programs that hack/images.sh
// prepares; it does not download anything.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"

	"github.com/spf13/cobra"

	"github.com/berth-cri/berth/test/images"
)

// options are build-images' flags.
type options struct {
	debDir       string
	binDir       string
	layoutDir    string
	pauseArchive string
	arch         string
	set          string
	table        bool
}

func main() {
	if err := newCommand(os.Stdout).Execute(); err != nil {
		os.Exit(1)
	}
}

func newCommand(stdout io.Writer) *cobra.Command {
	o := &options{}
	cmd := &cobra.Command{
		Use:          "build-images",
		Short:        "Build Berth's offline test images into an OCI layout",
		Args:         cobra.NoArgs,
		SilenceUsage: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.complete()
			if err := o.validate(); err != nil {
				return err
			}
			return o.run(cmd.Context(), stdout)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.debDir, "debs", "_output/images/debs", "directory holding the busybox, libc6 and util-linux .debs")
	f.StringVar(&o.binDir, "bins", "_output/images/bin", "directory holding the static programs: "+fmt.Sprint(images.Programs))
	f.StringVar(&o.layoutDir, "layout", "_output/images/layout", "OCI image layout to write (replaced)")
	f.StringVar(&o.pauseArchive, "pause-archive", "_output/images/pause.tar", "OCI archive of the pause image to write; empty skips it")
	f.StringVar(&o.arch, "arch", "", "GOARCH of the images (default: the host's)")
	f.StringVar(&o.set, "set", "critest", "which images: critest (critest's and berthd's) or e2e-node (Kubernetes' node conformance suite; no pause archive)")
	f.BoolVar(&o.table, "table", false, "print the catalogue as a markdown table and exit")
	return cmd
}

func (o *options) complete() {
	if o.arch == "" {
		o.arch = runtime.GOARCH
	}
}

func (o *options) validate() error {
	if _, ok := images.Sets[o.set]; !ok {
		return fmt.Errorf("--set %q: want critest or e2e-node", o.set)
	}
	if o.table {
		return nil
	}
	if o.set != "critest" && o.pauseArchive != "" {
		return fmt.Errorf("--set %s has no berthd pause image: pass --pause-archive ''", o.set)
	}
	if o.layoutDir == "" {
		return errors.New("--layout must not be empty")
	}
	for _, d := range []string{o.debDir, o.binDir} {
		if st, err := os.Stat(d); err != nil || !st.IsDir() {
			return fmt.Errorf("input directory %q is missing; hack/images.sh prepares it", d)
		}
	}
	return nil
}

func (o *options) run(ctx context.Context, stdout io.Writer) error {
	catalog := images.Sets[o.set](o.arch)
	if o.table {
		return images.WriteSetTable(stdout, catalog)
	}
	built, err := images.BuildSet(ctx, images.Inputs{DebDir: o.debDir, BinDir: o.binDir, Arch: o.arch}, catalog)
	if err != nil {
		return err
	}
	if err := images.WriteLayout(o.layoutDir, built); err != nil {
		return err
	}
	for _, b := range built {
		d, err := b.Img.Digest()
		if err != nil {
			return fmt.Errorf("digest of %s: %w", b.Refs[0], err)
		}
		for _, r := range b.Refs {
			fmt.Fprintf(stdout, "%s %s\n", d, r)
		}
	}
	if o.pauseArchive == "" {
		return nil
	}
	return writePauseArchive(o.pauseArchive, built)
}

// writePauseArchive writes the archive beside its final name and renames
// it, so berthd never imports half a file.
func writePauseArchive(path string, built []images.Built) error {
	var pause *images.Built
	for i := range built {
		if built[i].Refs[0] == images.PauseRef {
			pause = &built[i]
		}
	}
	if pause == nil {
		return fmt.Errorf("catalogue has no %s", images.PauseRef)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", filepath.Dir(path), err)
	}
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("creating %s: %w", tmp, err)
	}
	if err := images.WriteArchive(f, pause.Img, pause.Refs); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("moving %s into place: %w", path, err)
	}
	return nil
}
