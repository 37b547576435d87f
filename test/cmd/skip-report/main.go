// Command skip-report reads `go test -json` on its standard input, prints
// what plain `go test` would (each package's result, and the output of a
// test that failed), and then holds the run's
// skips against an expectations file (package test/expect): it fails on a
// skip the file does not list with its reason, and on a listed skip whose
// test now runs to the end, or no longer exists in a package that passed.
// Listed skips of packages outside the run are not judged, so the unit and
// the integration runs share one file. It also fails when a test failed.
//
// A test is named by its package, relative to the module, and its name:
// "sandbox/netns TestNewNamespace", "test/integration TestStats/crun".
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/berth-cri/berth/test/expect"
)

// event is the part of cmd/test2json's TestEvent this tool reads.
type event struct {
	Action  string
	Package string
	Test    string
	Output  string
}

// run is what one `go test -json` stream showed.
type run struct {
	skipped, settled []string          // test names by outcome
	reasons          map[string]string // skipped test -> its last log line
	failed           []string          // failed tests and packages
	passedPkgs       map[string]bool
	seen             map[string]bool // every test name that started
	output           map[string][]string
}

func newRun() *run {
	return &run{reasons: map[string]string{}, passedPkgs: map[string]bool{}, seen: map[string]bool{}, output: map[string][]string{}}
}

// read prints the stream's package results and failed tests' output to
// out, and sorts its tests by outcome.
// Lines that are not JSON (a build error on stderr merged in) are echoed.
func (r *run) read(in io.Reader, out io.Writer, module string) error {
	s := bufio.NewScanner(in)
	s.Buffer(make([]byte, 1<<20), 16<<20)
	for s.Scan() {
		var e event
		if err := json.Unmarshal(s.Bytes(), &e); err != nil || e.Action == "" {
			fmt.Fprintln(out, s.Text())
			continue
		}
		pkg := strings.TrimPrefix(strings.TrimPrefix(e.Package, module), "/")
		if e.Test == "" {
			// A package's own lines: ok/FAIL, build errors, a panic.
			fmt.Fprint(out, e.Output)
			switch e.Action {
			case "pass":
				r.passedPkgs[pkg] = true
			case "fail", "build-fail":
				r.failed = append(r.failed, pkg)
			}
			continue
		}
		name := pkg + " " + e.Test
		switch e.Action {
		case "run":
			r.seen[name] = true
		case "output":
			r.output[name] = append(r.output[name], e.Output)
		case "skip":
			r.skipped = append(r.skipped, name)
			r.reasons[name] = skipReason(r.output[name])
		case "pass":
			r.settled = append(r.settled, name)
		case "fail":
			r.settled = append(r.settled, name)
			r.failed = append(r.failed, name)
			// As go test without -v: a test's output shows when it failed.
			fmt.Fprint(out, strings.Join(r.output[name], ""))
		}
		if e.Action == "skip" || e.Action == "pass" || e.Action == "fail" {
			delete(r.output, name)
		}
	}
	return s.Err()
}

// skipReason is the last line a test logged before its SKIP line: the
// message of its t.Skip, with the file:line prefix go test gives it.
func skipReason(lines []string) string {
	for i := len(lines) - 1; i >= 0; i-- {
		l := strings.TrimSpace(lines[i])
		if l == "" || strings.HasPrefix(l, "=== ") || strings.HasPrefix(l, "--- ") {
			continue
		}
		return l
	}
	return "(no message)"
}

// gone adds to settled the listed tests of packages that passed but that
// never started: the test was renamed or removed, so its line must go.
func (r *run) gone(listed map[string]string) []string {
	settled := append([]string{}, r.settled...)
	for name := range listed {
		pkg, _, _ := strings.Cut(name, " ")
		if r.passedPkgs[pkg] && !r.seen[name] {
			settled = append(settled, name)
		}
	}
	return settled
}

func main() {
	expected := flag.String("expected", "", "expected skips: \"<package> <test> | reason\" per line")
	module := flag.String("module", "github.com/berth-cri/berth", "module path stripped from package names")
	flag.Parse()
	if err := report(os.Stdin, os.Stdout, *expected, *module); err != nil {
		fmt.Fprintln(os.Stderr, "skip-report:", err)
		os.Exit(1)
	}
}

func report(in io.Reader, out io.Writer, expectedPath, module string) error {
	listed, err := expect.ReadFile(expectedPath)
	if err != nil {
		return err
	}
	r := newRun()
	if err := r.read(in, out, module); err != nil {
		return fmt.Errorf("reading go test -json: %w", err)
	}
	unexpected, gone := expect.Verdict(r.skipped, r.gone(listed), listed)
	sort.Strings(r.skipped)
	fmt.Fprintln(out)
	for _, name := range r.skipped {
		if reason, ok := listed[name]; ok {
			fmt.Fprintf(out, "expected skip: %s (%s)\n", name, reason)
		}
	}
	for _, name := range unexpected {
		fmt.Fprintf(out, "UNEXPECTED SKIP: %s\n    %s\n", name, r.reasons[name])
	}
	for _, name := range gone {
		fmt.Fprintf(out, "NO LONGER SKIPS, remove it from %s: %s\n", expectedPath, name)
	}
	fmt.Fprintf(out, "skips: %d expected, %d unexpected, %d listed that no longer skip\n",
		len(r.skipped)-len(unexpected), len(unexpected), len(gone))
	var problems []string
	if len(unexpected)+len(gone) > 0 {
		problems = append(problems, fmt.Sprintf("%d unexpected skips, %d listed skips no longer happen (list each skip with its reason in %s)", len(unexpected), len(gone), expectedPath))
	}
	if len(r.failed) > 0 {
		problems = append(problems, fmt.Sprintf("failed: %s", strings.Join(r.failed, ", ")))
	}
	if len(problems) > 0 {
		return fmt.Errorf("%s", strings.Join(problems, "; "))
	}
	return nil
}
