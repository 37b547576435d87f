// Command berth-registry serves Berth's offline test images over the OCI
// distribution API on a loopback address, so berthd, crictl and critest
// pull "registry.k8s.io/..." and friends with no network.
//
// At start it loads every image of an OCI image layout (as hack/images.sh
// writes it) into an in-memory registry, each under its upstream
// repository path without the host (registry.k8s.io/e2e-test-images/busybox:1.29-2
// becomes e2e-test-images/busybox:1.29-2), then writes containerd
// hosts.toml files that send every upstream host to it. It can require
// HTTP basic auth, for tests of pulls with credentials.
//
// It is a test fixture: it keeps everything in memory, has no TLS, and
// serves only what the layout holds.
package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

// options are berth-registry's flags.
type options struct {
	addr       string
	addrFile   string
	layoutDirs []string
	hostsDir   string
	extraHosts []string
	user       string
	password   string
	quiet      bool
}

func main() {
	if err := newCommand(os.Stdout, os.Stderr).Execute(); err != nil {
		os.Exit(1)
	}
}

func newCommand(stdout, stderr io.Writer) *cobra.Command {
	o := &options{}
	cmd := &cobra.Command{
		Use:          "berth-registry",
		Short:        "Serve Berth's offline test images on a loopback registry",
		Args:         cobra.NoArgs,
		SilenceUsage: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.validate(); err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGTERM, syscall.SIGINT)
			defer stop()
			return o.run(ctx, stdout, stderr)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.addr, "addr", "127.0.0.1:0", "address to listen on; port 0 picks a free port")
	f.StringVar(&o.addrFile, "addr-file", "", "write the address listened on here once every image is served")
	f.StringSliceVar(&o.layoutDirs, "layout", []string{"_output/images/layout"},
		"OCI image layouts whose images to serve (repeat or separate with commas); one name in two layouts must be one image")
	f.StringVar(&o.hostsDir, "hosts-dir", "", "write containerd hosts.toml files here, one directory per upstream host")
	f.StringSliceVar(&o.extraHosts, "host", defaultHosts, "upstream hosts to redirect besides those the layout names")
	f.StringVar(&o.user, "user", "", "require HTTP basic auth with this user name")
	f.StringVar(&o.password, "password", "", "password for --user")
	f.BoolVar(&o.quiet, "quiet", false, "do not log each request")
	return cmd
}

func (o *options) validate() error {
	if (o.user == "") != (o.password == "") {
		return fmt.Errorf("--user and --password go together")
	}
	if len(o.layoutDirs) == 0 {
		return fmt.Errorf("--layout must not be empty")
	}
	for _, dir := range o.layoutDirs {
		if dir == "" {
			return fmt.Errorf("--layout must not be empty")
		}
	}
	return nil
}

// run serves until ctx ends.
func (o *options) run(ctx context.Context, stdout, stderr io.Writer) error {
	reqLog := log.New(stderr, "berth-registry: ", log.LstdFlags)
	if o.quiet {
		reqLog = log.New(io.Discard, "", 0)
	}
	srv, err := start(ctx, config{
		addr:       o.addr,
		layoutDirs: o.layoutDirs,
		creds:      credentials{user: o.user, password: o.password},
		log:        reqLog,
	})
	if err != nil {
		return err
	}
	defer srv.close()

	if o.hostsDir != "" {
		hosts := mergeHosts(srv.hosts, o.extraHosts)
		if err := writeHostsDir(o.hostsDir, hosts, srv.addr()); err != nil {
			return err
		}
	}
	if o.addrFile != "" {
		if err := writeFileAtomic(o.addrFile, []byte(srv.addr()+"\n")); err != nil {
			return err
		}
		defer os.Remove(o.addrFile)
	}
	fmt.Fprintf(stdout, "berth-registry: serving %d image names on http://%s\n", srv.refs, srv.addr())

	select {
	case <-ctx.Done():
		return nil
	case err := <-srv.errc:
		return fmt.Errorf("serving: %w", err)
	}
}
