// Command critest-report checks a ginkgo run (critest, or Kubernetes' node
// e2e suite) against Berth's list of known failures: it reads ginkgo's
// JSON report, prints the totals, and fails when a spec outside the list
// failed, or when a listed spec now passes (the list may only shrink).
// With --groups it also writes the totals per spec group (the outermost
// Describe) as a markdown table.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/berth-cri/berth/test/expect"
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
	// filtered are the specs that --focus and --skip left out, when
	// readReport is asked to tell them apart from skipped ones.
	filtered []string
	messages map[string]string
	groups   map[string]string // spec name -> outermost container
}

func (s specReport) name() string {
	return strings.TrimSpace(strings.Join(append(append([]string{}, s.ContainerHierarchyTexts...), s.LeafNodeText), " "))
}

// group is the spec's outermost container ("[sig-node] Probing container").
func (s specReport) group() string {
	if len(s.ContainerHierarchyTexts) == 0 {
		return "(top level)"
	}
	return strings.TrimSpace(s.ContainerHierarchyTexts[0])
}

// readReport sorts the specs of a report by outcome. With selectedOnly, a
// skipped spec without a message is one the focus or skip filtered out
// (a spec that skips itself says why) and goes to filtered, not skipped.
func readReport(r io.Reader, selectedOnly bool) (result, error) {
	var suites []suiteReport
	if err := json.NewDecoder(r).Decode(&suites); err != nil {
		return result{}, fmt.Errorf("decode ginkgo JSON report: %w", err)
	}
	res := result{messages: map[string]string{}, groups: map[string]string{}}
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
			res.groups[name] = s.group()
			switch s.State {
			case "skipped", "pending":
				if selectedOnly && s.Failure.Message == "" {
					res.filtered = append(res.filtered, name)
				} else {
					res.skipped = append(res.skipped, name)
				}
			case "passed":
				res.passed = append(res.passed, name)
			default:
				res.failed = append(res.failed, name)
				res.messages[name] = s.Failure.Message
			}
		}
	}
	return res, nil
}

// options are critest-report's flags.
type options struct {
	reportPath, expectedPath string
	name                     string
	selectedOnly             bool
	groupsPath               string
}

func main() {
	var o options
	flag.StringVar(&o.reportPath, "report", "", "ginkgo JSON report of the run")
	flag.StringVar(&o.expectedPath, "expected", "", "known failures: \"spec name | reason\" per line")
	flag.StringVar(&o.name, "name", "critest", "suite name for the totals line")
	flag.BoolVar(&o.selectedOnly, "selected-only", false, "count specs the focus and skip left out apart from skipped ones")
	flag.StringVar(&o.groupsPath, "groups", "", "write the totals per spec group here, as a markdown table")
	flag.Parse()
	if err := run(o, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "critest-report:", err)
		os.Exit(1)
	}
}

func run(o options, out io.Writer) error {
	reportPath, expectedPath := o.reportPath, o.expectedPath
	rf, err := os.Open(reportPath)
	if err != nil {
		return err
	}
	defer rf.Close()
	res, err := readReport(rf, o.selectedOnly)
	if err != nil {
		return err
	}
	expected, err := expect.ReadFile(expectedPath)
	if err != nil {
		return err
	}
	unexpected, nowPassing := expect.Verdict(res.failed, res.passed, expected)
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
	if o.groupsPath != "" {
		if err := os.WriteFile(o.groupsPath, []byte(groupTable(res)), 0o644); err != nil {
			return err
		}
	}
	fmt.Fprintf(out, "%s: %d passed, %d failed, %d skipped\n", o.name, len(res.passed), len(res.failed), len(res.skipped))
	if o.selectedOnly {
		fmt.Fprintf(out, "%s: %d specs not selected by the focus and skip\n", o.name, len(res.filtered))
	}
	if len(unexpected) > 0 || len(nowPassing) > 0 {
		return fmt.Errorf("%d unexpected failures, %d listed failures now pass", len(unexpected), len(nowPassing))
	}
	return nil
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return line
}

// groupTable renders passed, failed and skipped per spec group, groups in
// name order; specs the filters left out are not counted.
func groupTable(res result) string {
	type counts struct{ passed, failed, skipped int }
	per := map[string]*counts{}
	add := func(names []string, inc func(*counts)) {
		for _, n := range names {
			g, ok := res.groups[n]
			if !ok {
				g = "(setup and teardown)"
			}
			if per[g] == nil {
				per[g] = &counts{}
			}
			inc(per[g])
		}
	}
	add(res.passed, func(c *counts) { c.passed++ })
	add(res.failed, func(c *counts) { c.failed++ })
	add(res.skipped, func(c *counts) { c.skipped++ })
	names := make([]string, 0, len(per))
	for g := range per {
		names = append(names, g)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString("| Spec group | Passed | Failed | Skipped |\n| --- | ---: | ---: | ---: |\n")
	var total counts
	for _, g := range names {
		c := per[g]
		fmt.Fprintf(&b, "| %s | %d | %d | %d |\n", strings.ReplaceAll(g, "|", `\|`), c.passed, c.failed, c.skipped)
		total.passed += c.passed
		total.failed += c.failed
		total.skipped += c.skipped
	}
	fmt.Fprintf(&b, "| **total** | %d | %d | %d |\n", total.passed, total.failed, total.skipped)
	return b.String()
}
