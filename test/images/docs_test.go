package images

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestDocsListEveryImage keeps docs/test-images.md true: its table must be
// the one the catalogue generates, and every known gap must be named.
func TestDocsListEveryImage(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "test-images.md"))
	if err != nil {
		t.Fatal(err)
	}
	var table strings.Builder
	if err := WriteTable(&table, runtime.GOARCH); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(doc), table.String()) {
		t.Error("docs/test-images.md does not hold the current table; regenerate it with\n" +
			"  (cd test && go run ./images/cmd/build-images --table)")
	}
	var e2eNode strings.Builder
	if err := WriteSetTable(&e2eNode, E2ENodeCatalog(runtime.GOARCH)); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(doc), e2eNode.String()) {
		t.Error("docs/test-images.md does not hold the current node e2e table; regenerate it with\n" +
			"  (cd test && go run ./images/cmd/build-images --set e2e-node --table)")
	}
	for _, ref := range DigestRefGaps {
		if !strings.Contains(string(doc), ref) {
			t.Errorf("docs/test-images.md does not list the gap %s", ref)
		}
	}
}
