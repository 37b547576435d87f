package main

import (
	"flag"
	"fmt"
	"io"
	"os"
)

// version is what -v prints. Builds may override it with
// -ldflags "-X main.version=...", but the image build leaves it alone so
// that the pause image digest does not change with every commit.
var version = "v0.1.0"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run parses the arguments and either prints the version or pauses until
// a stop signal. It returns the process exit code.
func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("berth-pause", flag.ContinueOnError)
	fs.SetOutput(stderr)
	showVersion := fs.Bool("v", false, "print the version and exit")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *showVersion {
		fmt.Fprintf(stdout, "berth-pause %s\n", version)
		return 0
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "berth-pause: unexpected arguments %q\n", fs.Args())
		return 2
	}
	if err := pause(stderr); err != nil {
		fmt.Fprintf(stderr, "berth-pause: %v\n", err)
		return 1
	}
	return 0
}
