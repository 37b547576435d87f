package app

import (
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/berth-cri/berth/internal/config"
	"github.com/berth-cri/berth/internal/version"
)

// NewCommand returns berthd's root command.
func NewCommand() *cobra.Command {
	o := &Options{}
	cmd := &cobra.Command{
		Use:   "berthd",
		Short: "Berth: a Kubernetes CRI runtime on containerd",
		Long: `berthd serves the Kubernetes Container Runtime Interface on a unix socket
(default /run/berth/berth.sock) for kubelet and crictl. It starts and supervises
its own containerd unless --containerd-address names an existing one, and sets
up pod networks through CNI plugins.

Settings come from the TOML file (--config, default /etc/berth/config.toml; a
missing file means the defaults), and flags override the file. Print the
defaults with: berthd config default

Try it:  crictl --runtime-endpoint unix:///run/berth/berth.sock info`,
		Version:       versionString(),
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Complete(cmd.Flags()); err != nil {
				return err
			}
			if err := o.Validate(); err != nil {
				return err
			}
			if err := o.Run(cmd.Context()); err != nil || o.handover == nil {
				return err
			}
			err := o.handover.exec()
			// Only on failure: this berthd has shut down already, so run
			// its own binary again (the file stays reachable through
			// /proc/self/exe even once replaced) rather than leave the node
			// without a runtime.
			fmt.Fprintf(os.Stderr, "berthd: executing %s failed (%v); executing the running binary again\n", o.handover.exe, err)
			o.handover.exe = "/proc/self/exe"
			return o.handover.exec()
		},
	}
	cmd.SetVersionTemplate("{{.Version}}\n")
	o.AddFlags(cmd.Flags())
	cmd.AddCommand(newConfigCommand(), newImagesCommand())
	return cmd
}

func newConfigCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "config", Short: "Work with berthd's configuration file"}
	cmd.AddCommand(&cobra.Command{
		Use:   "default",
		Short: "Print the default configuration, with comments",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return printDefault(cmd.OutOrStdout())
		},
	})
	return cmd
}

func printDefault(w io.Writer) error {
	out, err := config.Marshal(config.Default())
	if err != nil {
		return err
	}
	_, err = w.Write(out)
	return err
}

func versionString() string {
	return fmt.Sprintf("berthd %s (commit %s)\nbuilt for containerd %s, runc %s, CNI plugins %s; CRI %s",
		version.Version, version.Commit, version.Containerd, version.Runc, version.CNIPlugins, version.CRIAPIVersion)
}
