package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// fakeProc lays out a /proc with the given processes (pid -> comm, cmdline).
func fakeProc(t *testing.T, procs map[int][2]string) string {
	t.Helper()
	dir := t.TempDir()
	for pid, p := range procs {
		d := filepath.Join(dir, strconv.Itoa(pid))
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "comm"), []byte(p[0]+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "cmdline"), []byte(p[1]), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// Entries that are not processes must be ignored.
	if err := os.WriteFile(filepath.Join(dir, "uptime"), []byte("1 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestPgrep(t *testing.T) {
	proc := fakeProc(t, map[int][2]string{
		1:  {"sh", "sh\x00-c\x00pgrep sleep || true\x00"},
		7:  {"sleep", "sleep\x004321\x00"},
		12: {"top", "top\x00"},
		20: {"pgrep", "pgrep\x00sleep\x00"},
		30: {"sleepy", "sleepy\x00"},
	})
	const self = 20
	for _, tc := range []struct {
		name     string
		args     []string
		wantOut  string
		wantCode int
	}{
		{name: "name match is a substring regexp", args: []string{"sleep"}, wantOut: "7\n30\n"},
		{name: "exact", args: []string{"-x", "sleep"}, wantOut: "7\n"},
		{name: "no match", args: []string{"nginx"}, wantCode: 1},
		// Without -f the shell whose command line mentions sleep must not
		// match: critest expects "pgrep sleep" to print nothing once the
		// sleep is gone.
		{name: "command line ignored without -f", args: []string{"-x", "sh"}, wantOut: "1\n"},
		{name: "full command line", args: []string{"-f", "4321"}, wantOut: "7\n"},
		{name: "list names", args: []string{"-l", "^to"}, wantOut: "12 top\n"},
		{name: "never itself", args: []string{"pgrep"}, wantCode: 1},
		{name: "bad pattern", args: []string{"("}, wantCode: 2},
		{name: "no pattern", args: nil, wantCode: 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(tc.args, proc, self, &stdout, &stderr)
			if code != tc.wantCode {
				t.Fatalf("exit %d, want %d (stderr %q)", code, tc.wantCode, stderr.String())
			}
			if stdout.String() != tc.wantOut {
				t.Fatalf("stdout %q, want %q", stdout.String(), tc.wantOut)
			}
		})
	}
}
