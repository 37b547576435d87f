// Command pgrep lists the IDs of processes whose name matches a pattern.
//
// Debian's busybox leaves out pgrep, and critest runs "pgrep sleep" in the
// busybox test image, so the image carries this small static one. It
// reads /proc only; it supports the options the tests need (-f, -x, -l)
// and nothing else. Exit status follows procps: 0 when something matched,
// 1 when nothing did, 2 on a usage error.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

func main() {
	os.Exit(run(os.Args[1:], "/proc", os.Getpid(), os.Stdout, os.Stderr))
}

func run(args []string, procDir string, self int, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("pgrep", flag.ContinueOnError)
	fs.SetOutput(stderr)
	full := fs.Bool("f", false, "match against the full command line")
	exact := fs.Bool("x", false, "require the pattern to match the whole name")
	list := fs.Bool("l", false, "print the process name beside its ID")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "usage: pgrep [-f] [-x] [-l] PATTERN")
		return 2
	}
	expr := fs.Arg(0)
	if *exact {
		expr = "^(?:" + expr + ")$"
	}
	re, err := regexp.Compile(expr)
	if err != nil {
		fmt.Fprintf(stderr, "pgrep: bad pattern: %v\n", err)
		return 2
	}
	procs, err := listProcs(procDir)
	if err != nil {
		fmt.Fprintf(stderr, "pgrep: %v\n", err)
		return 2
	}
	matched := 0
	for _, p := range procs {
		if p.pid == self {
			continue
		}
		subject := p.name
		if *full && p.cmdline != "" {
			subject = p.cmdline
		}
		if !re.MatchString(subject) {
			continue
		}
		matched++
		if *list {
			fmt.Fprintf(stdout, "%d %s\n", p.pid, p.name)
		} else {
			fmt.Fprintf(stdout, "%d\n", p.pid)
		}
	}
	if matched == 0 {
		return 1
	}
	return 0
}

type proc struct {
	pid     int
	name    string
	cmdline string
}

// listProcs reads every process in procDir, in PID order. A process that
// exits while we read it is skipped.
func listProcs(procDir string) ([]proc, error) {
	entries, err := os.ReadDir(procDir)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", procDir, err)
	}
	var procs []proc
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		comm, err := os.ReadFile(filepath.Join(procDir, e.Name(), "comm"))
		if err != nil {
			continue
		}
		cmdline, _ := os.ReadFile(filepath.Join(procDir, e.Name(), "cmdline"))
		procs = append(procs, proc{
			pid:     pid,
			name:    strings.TrimSuffix(string(comm), "\n"),
			cmdline: strings.TrimRight(strings.ReplaceAll(string(cmdline), "\x00", " "), " "),
		})
	}
	sort.Slice(procs, func(i, j int) bool { return procs[i].pid < procs[j].pid })
	return procs, nil
}
