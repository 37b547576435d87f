package container

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func fixedNow() time.Time { return time.Date(2026, 11, 27, 3, 4, 5, 6, time.UTC) }

func TestLineWriter(t *testing.T) {
	long := strings.Repeat("a", maxLineSize)
	for _, tc := range []struct {
		name   string
		writes []string
		flush  bool
		want   []string
	}{
		{"one line", []string{"hello\n"}, false, []string{"F hello"}},
		{"line across writes", []string{"hel", "lo\nwor", "ld\n"}, false, []string{"F hello", "F world"}},
		{"empty line", []string{"\n"}, false, []string{"F "}},
		{"unterminated line is held", []string{"tail"}, false, nil},
		{"flush ends it, partial as it had no newline", []string{"tail"}, true, []string{"P tail"}},
		{"exactly 16 KiB", []string{long + "\n"}, false, []string{"F " + long}},
		{"16 KiB and one byte", []string{long + "b\n"}, false, []string{"P " + long, "F b"}},
		{"long unterminated", []string{long, long, "c"}, true, []string{"P " + long, "P " + long, "P c"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			w := &lineWriter{stream: "stdout", now: fixedNow, emit: func(b []byte) {
				s := string(b)
				prefix := "2026-11-27T03:04:05.000000006Z stdout "
				if !strings.HasPrefix(s, prefix) || !strings.HasSuffix(s, "\n") {
					t.Fatalf("line %q lacks the timestamp, stream or newline", s)
				}
				got = append(got, strings.TrimSuffix(strings.TrimPrefix(s, prefix), "\n"))
			}}
			for _, s := range tc.writes {
				if n, err := w.Write([]byte(s)); n != len(s) || err != nil {
					t.Fatalf("Write = %d, %v", n, err)
				}
			}
			if tc.flush {
				w.Flush()
			}
			if strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Errorf("lines = %.80q, want %.80q", got, tc.want)
			}
		})
	}
}

func readAll(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	s := bufio.NewScanner(f)
	for s.Scan() {
		out = append(out, s.Text())
	}
	return out
}

func TestLogFileWritesAndReopens(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pod")
	path := filepath.Join(dir, "ctr", "0.log")
	l, err := openLogFile(dir, "ctr/0.log", nil)
	if err != nil {
		t.Fatal(err)
	}
	l.now = fixedNow
	out, errw := l.stream(streamStdout), l.stream(streamStderr)
	out.now, errw.now = fixedNow, fixedNow
	if _, err := out.Write([]byte("one\n")); err != nil {
		t.Fatal(err)
	}
	if _, err := errw.Write([]byte("two\n")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return len(readAll(t, path)) == 2 })

	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	if err := l.Reopen(); err != nil {
		t.Fatal(err)
	}
	if _, err := out.Write([]byte("three\n")); err != nil {
		t.Fatal(err)
	}
	l.Close()
	if got := readAll(t, path); len(got) != 1 || !strings.HasSuffix(got[0], " stdout F three") {
		t.Errorf("reopened file has %q", got)
	}
	if got := readAll(t, path+".1"); len(got) != 2 || !strings.HasSuffix(got[1], " stderr F two") {
		t.Errorf("rotated file has %q", got)
	}
	_, _ = out.Write([]byte("after close\n")) // must neither block nor panic
}

// A pod with a hostPath on /var/log swaps the log file for a symlink, before
// the container starts or between kubelet's rotation and the reopen: berthd
// must neither append to the target nor create it.
func TestLogFileRefusesAPlantedSymlink(t *testing.T) {
	base := t.TempDir()
	dir, target := filepath.Join(base, "pod"), filepath.Join(base, "host-file")
	if err := os.MkdirAll(filepath.Join(dir, "ctr"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(target, []byte("root:x:0:0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "ctr", "0.log")
	if err := os.Symlink(target, path); err != nil {
		t.Fatal(err)
	}
	if l, err := openLogFile(dir, "ctr/0.log", nil); err == nil {
		l.Close()
		t.Fatal("start: the log file was opened through a symlink")
	}

	os.Remove(path)
	l, err := openLogFile(dir, "ctr/0.log", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := os.Rename(path, path+".1"); err != nil { // kubelet rotates
		t.Fatal(err)
	}
	if err := os.Symlink(target, path); err != nil {
		t.Fatal(err)
	}
	if err := l.Reopen(); err == nil {
		t.Fatal("reopen: the log file was opened through a symlink")
	}
	_, _ = l.stream(streamStdout).Write([]byte("container output\n")) // dropped: no file is open, which is the point
	l.Close()
	if b, _ := os.ReadFile(target); string(b) != "root:x:0:0\n" {
		t.Fatalf("the host file was written: %q", b)
	}
}

// A writer that cannot keep up loses lines; the container never waits.
func TestLogFileDropsRatherThanBlocks(t *testing.T) {
	l, err := openLogFile(t.TempDir(), "0.log", nil)
	if err != nil {
		t.Fatal(err)
	}
	l.fileMu.Lock() // the disk hangs
	w := l.stream(streamStdout)
	line := []byte(strings.Repeat("z", 1000) + "\n")
	done := make(chan struct{})
	go func() {
		for range 20000 { // 20 MB, more than maxPending
			_, _ = w.Write(line) // dropped, not blocked: what the test checks
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("writes blocked on a hung log file")
	}
	if l.Dropped() == 0 {
		t.Error("no line was dropped although the file took none")
	}
	l.fileMu.Unlock()
	l.Close()
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A burst of lines is written in full, in order, and leaves no large
// buffer behind: a quiet container's log holds no queue.
func TestLogFileBurstLeavesNoBuffer(t *testing.T) {
	dir := t.TempDir()
	l, err := openLogFile(dir, "0.log", nil)
	if err != nil {
		t.Fatal(err)
	}
	w := l.stream(streamStdout)
	const lines = 20000
	for i := range lines {
		fmt.Fprintf(w, "line %d\n", i)
	}
	waitFor(t, func() bool { return l.pending.Load() == 0 })
	l.queueMu.Lock()
	held := cap(l.queue) + cap(l.spare)
	l.queueMu.Unlock()
	if held > 2*maxSpare { // the queue and one spare batch
		t.Errorf("the idle log holds room for %d lines, want at most %d", held, 2*maxSpare)
	}
	l.Close()
	data, err := os.ReadFile(filepath.Join(dir, "0.log"))
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	if len(got) != lines || l.Dropped() != 0 {
		t.Fatalf("%d lines written, %d dropped; want %d, none dropped", len(got), l.Dropped(), lines)
	}
	for i, line := range got {
		if !strings.HasSuffix(line, fmt.Sprintf(" stdout F line %d", i)) {
			t.Fatalf("line %d is %q", i, line)
		}
	}
}
