package main

import (
	"bytes"
	"testing"
	"time"
)

func TestExpand(t *testing.T) {
	at := time.Date(2026, 12, 6, 9, 5, 7, 123456789, time.UTC)
	for _, tc := range []struct{ format, want string }{
		{"%3t", "09:05:07.123"},
		{"%t", "09:05:07"},
		{"%6t", "09:05:07.123456"},
		{"at %1t, 100%%", "at 09:05:07.1, 100%"},
	} {
		got, err := expand(tc.format, at)
		if err != nil || got != tc.want {
			t.Errorf("expand(%q) = %q, %v; want %q", tc.format, got, err, tc.want)
		}
	}
	for _, bad := range []string{"%c", "%3", "%"} {
		if _, err := expand(bad, at); err == nil {
			t.Errorf("expand(%q) accepted a directive it does not implement", bad)
		}
	}
}

// TestRunStopsWhenTheReaderGoes: `nmeter -d0 ... | head -n1` must end once
// head has its line; here the writer fails after the first line.
func TestRunStopsWhenTheReaderGoes(t *testing.T) {
	w := &failAfter{n: 1}
	err := run(w, "%3t", 0, time.Now, func(time.Duration) {})
	if err == nil || w.buf.Len() == 0 {
		t.Fatalf("run returned %v after writing %q", err, w.buf.String())
	}
}

type failAfter struct {
	n   int
	buf bytes.Buffer
}

func (f *failAfter) Write(p []byte) (int, error) {
	if f.n == 0 {
		return 0, errClosed
	}
	f.n--
	return f.buf.Write(p)
}

var errClosed = &closedError{}

type closedError struct{}

func (*closedError) Error() string { return "closed pipe" }

func TestParseArgs(t *testing.T) {
	for _, tc := range []struct {
		args   []string
		delay  int
		format string
	}{
		{[]string{"-d0", "%3t"}, 0, "%3t"},
		{[]string{"-d", "250", "%t"}, 250, "%t"},
		{[]string{"%t"}, 1000, "%t"},
	} {
		d, f, err := parseArgs(tc.args)
		if err != nil || d != tc.delay || f != tc.format {
			t.Errorf("parseArgs(%q) = %d, %q, %v; want %d, %q", tc.args, d, f, err, tc.delay, tc.format)
		}
	}
	for _, bad := range [][]string{{}, {"-d"}, {"-dx", "%t"}, {"%t", "extra"}} {
		if _, _, err := parseArgs(bad); err == nil {
			t.Errorf("parseArgs(%q) accepted it", bad)
		}
	}
}
