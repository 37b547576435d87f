// Package expect reads Berth's expectation files and holds a run against
// them. An expectation file lists, one per line, "name | reason": a
// critest spec that fails, a Go test that skips. The list is a ratchet: a
// run fails on an outcome it does not list (a new failure, a new skip) and
// on a listed outcome that no longer happens (remove the line: the list
// only shrinks). Lines starting with # are comments; a line without a
// reason is an error, so nothing is listed without saying why.
//
// A reason starting with "flaky: " lists an outcome that comes and goes
// for a cause outside the code under test, shown to hit the reference
// runtime as well (a spec's timing on a loaded machine): it may happen,
// and it may not. The ratchet then holds only against new outcomes, so
// the prefix is for what a rerun cannot settle, not for open bugs.
package expect

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// FlakyPrefix starts the reason of an outcome that may or may not happen.
const FlakyPrefix = "flaky: "

// Read parses "name | reason" lines into reasons by name.
func Read(r io.Reader) (map[string]string, error) {
	out := map[string]string{}
	s := bufio.NewScanner(r)
	for n := 1; s.Scan(); n++ {
		line := strings.TrimSpace(s.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, reason, ok := strings.Cut(line, " | ")
		if !ok || strings.TrimSpace(reason) == "" {
			return nil, fmt.Errorf("line %d: want \"name | reason\", got %q", n, line)
		}
		out[strings.TrimSpace(name)] = strings.TrimSpace(reason)
	}
	return out, s.Err()
}

// ReadFile is Read of the file at path; its errors name the file.
func ReadFile(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	listed, err := Read(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return listed, nil
}

// Verdict holds a run against the list. happened are the names with the
// listed kind of outcome in this run (failed specs, skipped tests); settled
// are the names that ran to another outcome (passed). A listed name in
// neither is not judged: the run did not reach it, and neither is a
// listed name whose reason starts with FlakyPrefix that settled. Both
// results are sorted.
func Verdict(happened, settled []string, listed map[string]string) (unexpected, gone []string) {
	for _, name := range happened {
		if _, ok := listed[name]; !ok {
			unexpected = append(unexpected, name)
		}
	}
	ran := map[string]bool{}
	for _, name := range settled {
		ran[name] = true
	}
	for name, reason := range listed {
		if ran[name] && !strings.HasPrefix(reason, FlakyPrefix) {
			gone = append(gone, name)
		}
	}
	sort.Strings(unexpected)
	sort.Strings(gone)
	return unexpected, gone
}
