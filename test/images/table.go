package images

import (
	"fmt"
	"io"
	"strings"
)

// WriteTable writes the catalogue as the markdown table of
// docs/test-images.md, so the document can be regenerated rather than
// drift from the code.
func WriteTable(w io.Writer, arch string) error {
	return WriteSetTable(w, Catalog(arch))
}

// WriteSetTable writes catalog as a markdown table, as WriteTable does.
func WriteSetTable(w io.Writer, catalog []Image) error {
	var b strings.Builder
	b.WriteString("| Image (all names) | Contents | Used by |\n")
	b.WriteString("| --- | --- | --- |\n")
	for _, c := range catalog {
		refs := make([]string, len(c.Refs))
		for i, r := range c.Refs {
			refs[i] = "`" + r + "`"
		}
		fmt.Fprintf(&b, "| %s | %s | %s |\n", strings.Join(refs, "<br>"), cell(c.Contents), cell(c.UsedBy))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// cell escapes the pipes of a table cell (critest names a spec "Uid|Username").
func cell(s string) string {
	return strings.ReplaceAll(s, "|", `\|`)
}
