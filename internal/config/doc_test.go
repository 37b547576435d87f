package config

import (
	"bufio"
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

const referenceDoc = "../../docs/configuration.md"

// defaultKeys reads `berthd config default` as an operator does: every
// key, dotted with its table, and its default as printed.
func defaultKeys(t *testing.T) (text string, keys map[string]string, order []string) {
	t.Helper()
	out, err := Marshal(Default())
	if err != nil {
		t.Fatal(err)
	}
	keys = map[string]string{}
	table := ""
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "["):
			table = strings.Trim(line, "[]") + "."
		default:
			key, value, ok := strings.Cut(line, " = ")
			if !ok {
				t.Fatalf("unexpected line in the default config: %q", line)
			}
			keys[table+key] = value
			order = append(order, table+key)
		}
	}
	return string(out), keys, order
}

var docRow = regexp.MustCompile("(?m)^\\| `([a-z_.]+)` \\| `([^`]*)` \\|")

// TestReferenceDocMatchesTheDefaults keeps docs/configuration.md from
// drifting: its copy of `berthd config default` is exact, and its table
// has every key, with the default berthd uses, and no key berthd lacks.
func TestReferenceDocMatchesTheDefaults(t *testing.T) {
	data, err := os.ReadFile(referenceDoc)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(data)
	text, keys, order := defaultKeys(t)
	if !strings.Contains(doc, "```toml\n"+text+"```\n") {
		t.Errorf("%s does not hold the output of berthd config default exactly; it is now:\n%s", referenceDoc, text)
	}
	rows := map[string]string{}
	for _, m := range docRow.FindAllStringSubmatch(doc, -1) {
		rows[m[1]] = m[2]
		if _, ok := keys[m[1]]; !ok {
			t.Errorf("%s documents %s, which berthd does not have", referenceDoc, m[1])
		}
	}
	for _, key := range order {
		got, ok := rows[key]
		switch {
		case !ok:
			t.Errorf("%s has no row for %s (default %s)", referenceDoc, key, keys[key])
		case got != keys[key]:
			t.Errorf("%s gives %s the default %s; berthd's is %s", referenceDoc, key, got, keys[key])
		}
	}
}

// TestDocsNameTestsThatExist keeps the promises of docs/security.md and
// of docs/architecture.md's shortcuts beside real tests: every test or
// fuzz target they name is defined.
func TestDocsNameTestsThatExist(t *testing.T) {
	defined := map[string]bool{}
	funcs := regexp.MustCompile(`(?m)^func ((?:Test|Fuzz)[A-Za-z0-9_]+)\(`)
	err := filepath.WalkDir("../..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "_output" || d.Name() == ".git") {
			return filepath.SkipDir
		}
		if strings.HasSuffix(path, "_test.go") {
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			for _, m := range funcs.FindAllSubmatch(b, -1) {
				defined[string(m[1])] = true
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, doc := range []string{"../../docs/security.md", "../../docs/architecture.md"} {
		text, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		named := regexp.MustCompile("`((?:Test|Fuzz)[A-Za-z0-9_]+)`").FindAllSubmatch(text, -1)
		if len(named) == 0 {
			t.Errorf("%s names no test", doc)
		}
		for _, m := range named {
			if !defined[string(m[1])] {
				t.Errorf("%s names %s, which no test file defines", doc, m[1])
			}
		}
	}
}
