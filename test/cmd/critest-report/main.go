// Command critest-report checks a critest run against Berth's list of
// known failures: it reads ginkgo's JSON report, prints the totals, and
// fails when a spec outside the list failed, or when a listed spec now
// passes (the list may only shrink).
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
)

// specReport is the part of ginkgo v2's SpecReport this tool reads.
type specReport struct {
	ContainerHierarchyTexts []string
	LeafNodeText            string
	LeafNodeType            string
	State                   string
	Failure                 struct{ Message string }
}

type suiteReport struct {
	SpecReports []specReport
}

type result struct {
	passed, failed, skipped []string
	messages                map[string]string
}

func (s specReport) name() string {
	return strings.TrimSpace(strings.Join(append(append([]string{}, s.ContainerHierarchyTexts...), s.LeafNodeText), " "))
}

func readReport(r io.Reader) (result, error) {
	var suites []suiteReport
	if err := json.NewDecoder(r).Decode(&suites); err != nil {
		return result{}, fmt.Errorf("decode ginkgo JSON report: %w", err)
	}
	res := result{messages: map[string]string{}}
	for _, suite := range suites {
		for _, s := range suite.SpecReports {
			name := s.name()
			if s.LeafNodeType != "It" {
				// A failed BeforeSuite or cleanup node fails the run too.
				if s.State != "passed" && s.State != "skipped" {
					name = s.LeafNodeType + " " + name
					res.failed = append(res.failed, name)
					res.messages[name] = s.Failure.Message
				}
				continue
			}
			switch s.State {
			case "passed":
				res.passed = append(res.passed, name)
			case "skipped", "pending":
				res.skipped = append(res.skipped, name)
			default:
				res.failed = append(res.failed, name)
				res.messages[name] = s.Failure.Message
			}
		}
	}
	return res, nil
}

// readExpected parses "spec name | reason" lines; # starts a comment.
func readExpected(r io.Reader) (map[string]string, error) {
	out := map[string]string{}
	s := bufio.NewScanner(r)
	for n := 1; s.Scan(); n++ {
		line := strings.TrimSpace(s.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, reason, ok := strings.Cut(line, " | ")
		if !ok || strings.TrimSpace(reason) == "" {
			return nil, fmt.Errorf("line %d: want \"spec name | reason\", got %q", n, line)
		}
		out[strings.TrimSpace(name)] = strings.TrimSpace(reason)
	}
	return out, s.Err()
}

// verdict compares a run with the expectations.
func verdict(res result, expected map[string]string) (unexpected, nowPassing []string) {
	failed := map[string]bool{}
	for _, f := range res.failed {
		failed[f] = true
		if _, ok := expected[f]; !ok {
			unexpected = append(unexpected, f)
		}
	}
	passed := map[string]bool{}
	for _, p := range res.passed {
		passed[p] = true
	}
	for name := range expected {
		if passed[name] {
			nowPassing = append(nowPassing, name)
		}
	}
	sort.Strings(unexpected)
	sort.Strings(nowPassing)
	return unexpected, nowPassing
}

func main() {
	reportPath := flag.String("report", "", "ginkgo JSON report of the critest run")
	expectedPath := flag.String("expected", "", "known failures: \"spec name | reason\" per line")
	flag.Parse()
	if err := run(*reportPath, *expectedPath, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "critest-report:", err)
		os.Exit(1)
	}
}

func run(reportPath, expectedPath string, out io.Writer) error {
	rf, err := os.Open(reportPath)
	if err != nil {
		return err
	}
	defer rf.Close()
	res, err := readReport(rf)
	if err != nil {
		return err
	}
	ef, err := os.Open(expectedPath)
	if err != nil {
		return err
	}
	defer ef.Close()
	expected, err := readExpected(ef)
	if err != nil {
		return fmt.Errorf("%s: %w", expectedPath, err)
	}
	unexpected, nowPassing := verdict(res, expected)
	for _, f := range res.failed {
		if reason, ok := expected[f]; ok {
			fmt.Fprintf(out, "known failure: %s (%s)\n", f, reason)
		}
	}
	for _, f := range unexpected {
		fmt.Fprintf(out, "UNEXPECTED FAILURE: %s\n    %s\n", f, firstLine(res.messages[f]))
	}
	for _, p := range nowPassing {
		fmt.Fprintf(out, "NOW PASSES, remove it from %s: %s\n", expectedPath, p)
	}
	fmt.Fprintf(out, "critest: %d passed, %d failed, %d skipped\n", len(res.passed), len(res.failed), len(res.skipped))
	if len(unexpected) > 0 || len(nowPassing) > 0 {
		return fmt.Errorf("%d unexpected failures, %d listed failures now pass", len(unexpected), len(nowPassing))
	}
	return nil
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return line
}
