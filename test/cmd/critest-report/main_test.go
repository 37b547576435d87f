package main

import (
	"strings"
	"testing"

	"github.com/berth-cri/berth/test/expect"
)

const sample = `[{"SpecReports": [
 {"ContainerHierarchyTexts": ["[sig-node] Image Manager"], "LeafNodeText": "public image with tag should be pulled and removed", "LeafNodeType": "It", "State": "passed"},
 {"ContainerHierarchyTexts": ["[sig-node] Image Manager"], "LeafNodeText": "public image with digest should be pulled and removed", "LeafNodeType": "It", "State": "failed", "Failure": {"Message": "not found\nmore"}},
 {"ContainerHierarchyTexts": ["[sig-node] AppArmor"], "LeafNodeText": "should fail", "LeafNodeType": "It", "State": "skipped"},
 {"ContainerHierarchyTexts": ["[sig-node] Container"], "LeafNodeText": "runtime should support exec", "LeafNodeType": "It", "State": "failed", "Failure": {"Message": "exec failed"}},
 {"LeafNodeText": "", "LeafNodeType": "SynchronizedBeforeSuite", "State": "passed"}
]}]`

func TestVerdict(t *testing.T) {
	res, err := readReport(strings.NewReader(sample), false)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.passed) != 1 || len(res.failed) != 2 || len(res.skipped) != 1 {
		t.Fatalf("counts: %d passed %d failed %d skipped", len(res.passed), len(res.failed), len(res.skipped))
	}
	expected, err := expect.Read(strings.NewReader(`# comment
[sig-node] Image Manager public image with digest should be pulled and removed | digest-pinned image cannot be rebuilt offline
[sig-node] Image Manager public image with tag should be pulled and removed | was broken once
`))
	if err != nil {
		t.Fatal(err)
	}
	unexpected, nowPassing := expect.Verdict(res.failed, res.passed, expected)
	if len(unexpected) != 1 || unexpected[0] != "[sig-node] Container runtime should support exec" {
		t.Fatalf("unexpected = %v", unexpected)
	}
	if len(nowPassing) != 1 || !strings.Contains(nowPassing[0], "with tag") {
		t.Fatalf("a listed spec that passes must be reported: %v", nowPassing)
	}
}

func TestFailedSetupNodeCounts(t *testing.T) {
	res, _ := readReport(strings.NewReader(`[{"SpecReports": [{"LeafNodeType": "BeforeSuite", "State": "failed", "Failure": {"Message": "cannot connect"}}]}]`), false)
	unexpected, _ := expect.Verdict(res.failed, res.passed, map[string]string{})
	if len(unexpected) != 1 {
		t.Fatalf("a failed BeforeSuite must fail the run: %v", unexpected)
	}
}

// TestSelectedOnly: with a focus, most specs of node e2e are filtered out;
// they must not be counted as skipped, while a spec that skips itself is.
func TestSelectedOnly(t *testing.T) {
	report := `[{"SpecReports": [
 {"ContainerHierarchyTexts": ["[sig-node] Probing container"], "LeafNodeText": "liveness", "LeafNodeType": "It", "State": "passed"},
 {"ContainerHierarchyTexts": ["[sig-node] Probing container"], "LeafNodeText": "serial one", "LeafNodeType": "It", "State": "skipped"},
 {"ContainerHierarchyTexts": ["[sig-node] AppArmor"], "LeafNodeText": "loads", "LeafNodeType": "It", "State": "skipped", "Failure": {"Message": "Only supported when AppArmor is enabled"}},
 {"ContainerHierarchyTexts": ["[sig-node] Summary API"], "LeafNodeText": "stats", "LeafNodeType": "It", "State": "failed", "Failure": {"Message": "boom"}}
]}]`
	res, err := readReport(strings.NewReader(report), true)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.passed) != 1 || len(res.failed) != 1 || len(res.skipped) != 1 || len(res.filtered) != 1 {
		t.Fatalf("counts: %d passed %d failed %d skipped %d filtered", len(res.passed), len(res.failed), len(res.skipped), len(res.filtered))
	}
	table := groupTable(res)
	for _, row := range []string{
		"| [sig-node] AppArmor | 0 | 0 | 1 |",
		"| [sig-node] Probing container | 1 | 0 | 0 |",
		"| [sig-node] Summary API | 0 | 1 | 0 |",
		"| **total** | 1 | 1 | 1 |",
	} {
		if !strings.Contains(table, row+"\n") {
			t.Errorf("table lacks %q:\n%s", row, table)
		}
	}
}
