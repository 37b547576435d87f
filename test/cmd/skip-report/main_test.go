package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// stream is go test -json as Go 1.26 writes it: package a skips TestRoot
// (not root) and passes TestPure; package b skips TestNew and passes.
const stream = `{"Action":"start","Package":"m/a"}
{"Action":"run","Package":"m/a","Test":"TestRoot"}
{"Action":"output","Package":"m/a","Test":"TestRoot","Output":"=== RUN   TestRoot\n"}
{"Action":"output","Package":"m/a","Test":"TestRoot","Output":"    a_test.go:9: needs root\n"}
{"Action":"output","Package":"m/a","Test":"TestRoot","Output":"--- SKIP: TestRoot (0.00s)\n"}
{"Action":"skip","Package":"m/a","Test":"TestRoot","Elapsed":0}
{"Action":"run","Package":"m/a","Test":"TestPure"}
{"Action":"output","Package":"m/a","Test":"TestPure","Output":"--- PASS: TestPure (0.00s)\n"}
{"Action":"pass","Package":"m/a","Test":"TestPure","Elapsed":0}
{"Action":"output","Package":"m/a","Output":"ok  \tm/a\t0.01s\n"}
{"Action":"pass","Package":"m/a","Elapsed":0.01}
{"Action":"run","Package":"m/b","Test":"TestNew"}
{"Action":"output","Package":"m/b","Test":"TestNew","Output":"    b_test.go:3: no crun here\n"}
{"Action":"skip","Package":"m/b","Test":"TestNew","Elapsed":0}
{"Action":"pass","Package":"m/b","Elapsed":0.01}
`

func TestReport(t *testing.T) {
	for _, tc := range []struct {
		name, listed, stream string
		wantErr              string // "" for a run that passes
		wantOut              []string
		wantNot              []string // output of tests that passed or skipped, as go test without -v
	}{
		{
			name:    "every skip listed",
			listed:  "a TestRoot | unit tests run as a user too\nb TestNew | crun is not installed\n",
			stream:  stream,
			wantOut: []string{"ok  \tm/a\t0.01s\n", "expected skip: a TestRoot (unit tests run as a user too)", "skips: 2 expected, 0 unexpected, 0 listed"},
			wantNot: []string{"--- PASS: TestPure", "=== RUN"},
		},
		{
			name:    "a skip not listed",
			listed:  "a TestRoot | unit tests run as a user too\n",
			stream:  stream,
			wantErr: "1 unexpected skips, 0 listed",
			wantOut: []string{"UNEXPECTED SKIP: b TestNew\n    b_test.go:3: no crun here"},
		},
		{
			name:    "a listed test that now passes",
			listed:  "a TestRoot | r\nb TestNew | r\na TestPure | was broken\n",
			stream:  stream,
			wantErr: "0 unexpected skips, 1 listed",
			wantOut: []string{"NO LONGER SKIPS, remove it from"},
		},
		{
			name:    "a listed test gone from a package that passed",
			listed:  "a TestRoot | r\nb TestNew | r\nb TestRenamed | r\n",
			stream:  stream,
			wantErr: "0 unexpected skips, 1 listed",
			wantOut: []string{"b TestRenamed"},
		},
		{
			name:    "a listed test of a package outside the run is not judged",
			listed:  "a TestRoot | r\nb TestNew | r\nintegration TestStats | r\n",
			stream:  stream,
			wantOut: []string{"skips: 2 expected, 0 unexpected, 0 listed"},
		},
		{
			name:    "a failed test fails the report and shows its output",
			listed:  "",
			stream:  `{"Action":"run","Package":"m/c","Test":"TestX"}` + "\n" + `{"Action":"output","Package":"m/c","Test":"TestX","Output":"    c_test.go:5: want 1, got 2\n"}` + "\n" + `{"Action":"fail","Package":"m/c","Test":"TestX"}` + "\n" + `{"Action":"fail","Package":"m/c"}` + "\n",
			wantErr: "failed: c TestX, c",
			wantOut: []string{"c_test.go:5: want 1, got 2"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "expected-skips.txt")
			if err := os.WriteFile(path, []byte(tc.listed), 0o600); err != nil {
				t.Fatal(err)
			}
			var out strings.Builder
			err := report(strings.NewReader(tc.stream), &out, path, "m")
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("report failed: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("error = %v, want one with %q", err, tc.wantErr)
			}
			for _, not := range tc.wantNot {
				if strings.Contains(out.String(), not) {
					t.Errorf("output has %q:\n%s", not, out.String())
				}
			}
			for _, want := range tc.wantOut {
				if !strings.Contains(out.String(), want) {
					t.Errorf("output lacks %q:\n%s", want, out.String())
				}
			}
		})
	}
}
