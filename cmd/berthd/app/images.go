package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/berth-cri/berth/cmd/berthd/supervisor"
	"github.com/berth-cri/berth/images"
	"github.com/berth-cri/berth/internal/config"
)

// newImagesCommand is `berthd images`: loading and saving image archives
// in the containerd of the berthd that runs with the same configuration.
// It talks to that containerd directly, in Berth's namespace, as berthd
// would (the file and the flags that locate it are berthd's), and berthd
// sees each image it loads at once, by containerd's image events.
func newImagesCommand() *cobra.Command {
	o := &Options{}
	d := config.Default()
	cmd := &cobra.Command{
		Use:   "images",
		Short: "Import and export image archives in the running berthd's containerd",
		Long: `Import and export image archives (docker save's docker-archive, or an OCI
image layout in a tar as skopeo, crane or buildx write it) in the containerd of the
berthd configured by --config, in its namespace, unpacked for its pods. No registry
is involved: this is how images reach an air-gapped node (docs/airgap.md).`,
	}
	fs := cmd.PersistentFlags()
	fs.StringVar(&o.ConfigPath, "config", config.DefaultPath, "berthd's configuration file (TOML); missing means defaults")
	fs.StringVar(&o.flags.State, "state", d.State, "berthd's runtime state directory")
	fs.StringVar(&o.flags.Containerd.Address, "containerd-address", d.Containerd.Address, "the containerd berthd uses, if not its own")
	fs.StringVar(&o.flags.Containerd.Namespace, "containerd-namespace", d.Containerd.Namespace, "containerd namespace of Berth's images")

	var imp struct {
		allPlatforms bool
		name         string
	}
	importCmd := &cobra.Command{
		Use:   "import FILE...",
		Short: "Load image archives (- reads standard input); prints the images loaded",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if imp.name != "" && len(args) > 1 {
				return errors.New("--name names the image of one archive; give one FILE")
			}
			return withImages(cmd, o, func(ctx context.Context, svc *images.Service) error {
				for _, file := range args {
					if err := importArchive(ctx, svc, file, images.ImportOptions{AllPlatforms: imp.allPlatforms, Name: imp.name}, cmd.OutOrStdout()); err != nil {
						return fmt.Errorf("import %s: %w", file, err)
					}
				}
				return nil
			})
		},
	}
	importCmd.Flags().BoolVar(&imp.allPlatforms, "all-platforms", false, "keep every platform's content, not only this node's")
	importCmd.Flags().StringVar(&imp.name, "name", "", "name the archive's image this, instead of the names in the archive")

	var exp struct {
		allPlatforms bool
		output       string
	}
	exportCmd := &cobra.Command{
		Use:   "export REF... -o FILE",
		Short: "Save images to an archive that docker load and berthd images import read",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if exp.output == "" {
				return errors.New("give the archive to write: -o FILE (- for standard output)")
			}
			return withImages(cmd, o, func(ctx context.Context, svc *images.Service) error {
				return exportArchive(ctx, svc, args, exp.output, exp.allPlatforms)
			})
		},
	}
	exportCmd.Flags().BoolVar(&exp.allPlatforms, "all-platforms", false, "save every platform's content, not only this node's")
	exportCmd.Flags().StringVarP(&exp.output, "output", "o", "", "archive to write (- for standard output)")

	cmd.AddCommand(importCmd, exportCmd)
	return cmd
}

// withImages connects to the containerd of the berthd o describes and
// runs fn with an image service in berthd's namespace.
func withImages(cmd *cobra.Command, o *Options, fn func(context.Context, *images.Service) error) error {
	if err := o.Complete(cmd.Flags()); err != nil {
		return err
	}
	cfg := o.Config
	address := containerdAddress(cfg)
	if _, err := os.Stat(address); err != nil {
		return fmt.Errorf("berthd's containerd is not at %s (is berthd running, with this --config?): %w", address, err)
	}
	client, err := containerd.New(address, containerd.WithDefaultNamespace(cfg.Containerd.Namespace), containerd.WithTimeout(10*time.Second))
	if err != nil {
		return fmt.Errorf("connect to berthd's containerd at %s: %w", address, err)
	}
	defer client.Close()
	svc, err := images.New(images.Config{
		Client:    client,
		Namespace: cfg.Containerd.Namespace,
		Logger:    slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		return err
	}
	return fn(cmd.Context(), svc)
}

// embeddedContainerd is the state directory of the containerd berthd
// starts, which holds its socket.
func embeddedContainerd(cfg config.Config) string { return filepath.Join(cfg.State, "containerd") }

// containerdAddress is the socket of the containerd berthd drives.
func containerdAddress(cfg config.Config) string {
	if cfg.Containerd.Address != "" {
		return cfg.Containerd.Address
	}
	return supervisor.Config{State: embeddedContainerd(cfg)}.Address()
}

func importArchive(ctx context.Context, svc *images.Service, file string, opts images.ImportOptions, out io.Writer) error {
	var r io.Reader = os.Stdin
	size := int64(-1)
	if file != "-" {
		f, err := os.Open(file)
		if err != nil {
			return err
		}
		defer f.Close()
		if fi, err := f.Stat(); err == nil {
			size = fi.Size()
		}
		r = f
	}
	counted := &countingReader{r: r}
	stop := showProgress(file, "read", counted.n.Load, size)
	imgs, err := svc.Import(ctx, counted, opts)
	stop()
	if err != nil {
		return err
	}
	for _, img := range imgs {
		refs := append(img.RepoTags(), img.RepoDigests()...)
		if len(refs) == 0 {
			refs = []string{img.ID}
		}
		for _, ref := range refs {
			fmt.Fprintf(out, "Loaded image: %s (%s)\n", ref, img.ID)
		}
	}
	return nil
}

func exportArchive(ctx context.Context, svc *images.Service, refs []string, output string, allPlatforms bool) (retErr error) {
	w := os.Stdout
	if output != "-" {
		f, err := os.Create(output)
		if err != nil {
			return err
		}
		defer func() {
			if err := f.Close(); err != nil && retErr == nil {
				retErr = err
			}
			if retErr != nil {
				os.Remove(output) // no half-written archive
			}
		}()
		w = f
	}
	counted := &countingWriter{w: w}
	stop := showProgress(output, "written", counted.n.Load, -1)
	defer stop()
	return svc.Export(ctx, counted, refs, allPlatforms)
}

// showProgress prints how far a transfer got on standard error, twice a
// second, when that is a terminal; the returned function stops it.
func showProgress(what, verb string, done func() int64, total int64) func() {
	if _, err := unix.IoctlGetTermios(int(os.Stderr.Fd()), unix.TCGETS); err != nil {
		return func() {}
	}
	stop := make(chan struct{})
	finished := make(chan struct{})
	show := func() {
		if total > 0 {
			fmt.Fprintf(os.Stderr, "\r%s: %s of %s %s   ", what, mib(done()), mib(total), verb)
		} else {
			fmt.Fprintf(os.Stderr, "\r%s: %s %s   ", what, mib(done()), verb)
		}
	}
	go func() {
		defer close(finished)
		t := time.NewTicker(500 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				show()
				fmt.Fprintln(os.Stderr)
				return
			case <-t.C:
				show()
			}
		}
	}()
	return func() { close(stop); <-finished }
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

type countingWriter struct {
	w io.Writer
	n atomic.Int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n.Add(int64(n))
	return n, err
}
