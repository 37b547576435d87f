package container

import (
	"os"
	"strings"
	"testing"
	"time"
)

// What the shim writes to the FIFOs reaches the writers, all of it, before
// Wait returns; the FIFOs go with Close.
func TestStreamsCopyEverythingBeforeWaitReturns(t *testing.T) {
	var out, errOut syncBuffer
	tio, err := streams{dir: t.TempDir(), stdout: &out, stderr: &errOut}.creator()("c1")
	if err != nil {
		t.Fatal(err)
	}
	cfg := tio.Config()
	if cfg.Stdin != "" || cfg.Stdout == "" || cfg.Stderr == "" {
		t.Fatalf("FIFOs %+v: want stdout and stderr, no stdin", cfg)
	}
	// Much more than a copy buffer, as a container that writes fast.
	want := strings.Repeat("0123456789abcdef", 16<<10)
	for path, text := range map[string]string{cfg.Stdout: want, cfg.Stderr: "oops\n"} {
		w, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.WriteString(text); err != nil {
			t.Fatal(err)
		}
		w.Close()
	}
	waited := make(chan struct{})
	go func() { tio.Wait(); close(waited) }()
	select {
	case <-waited:
	case <-time.After(10 * time.Second):
		t.Fatal("Wait did not return after the writers closed")
	}
	if got := out.String(); got != want {
		t.Errorf("stdout: got %d bytes, want %d", len(got), len(want))
	}
	if got := errOut.String(); got != "oops\n" {
		t.Errorf("stderr: got %q", got)
	}
	if err := tio.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(cfg.Stdout); !os.IsNotExist(err) {
		t.Errorf("the stdout FIFO is left after Close: %v", err)
	}
}

// A task that was never created never opens its FIFOs: Cancel ends the
// copies, so the caller's Wait does not hang.
func TestStreamsCancelEndsCopiesWithoutAWriter(t *testing.T) {
	tio, err := streams{dir: t.TempDir(), stdout: &syncBuffer{}, stderr: &syncBuffer{}}.creator()("c2")
	if err != nil {
		t.Fatal(err)
	}
	tio.Cancel()
	waited := make(chan struct{})
	go func() { tio.Wait(); close(waited) }()
	select {
	case <-waited:
	case <-time.After(10 * time.Second):
		t.Fatal("Wait hangs after Cancel")
	}
	_ = tio.Close()
}

// A terminal has one output stream; a nil stream gets no FIFO.
func TestStreamsMakeOnlyTheFIFOsAsked(t *testing.T) {
	for _, tc := range []struct {
		name      string
		s         streams
		in, errOK bool
	}{
		{"terminal", streams{terminal: true, stdin: strings.NewReader(""), stdout: &syncBuffer{}, stderr: &syncBuffer{}}, true, false},
		{"no stderr", streams{stdout: &syncBuffer{}}, false, false},
		{"all", streams{stdin: strings.NewReader(""), stdout: &syncBuffer{}, stderr: &syncBuffer{}}, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.s.dir = t.TempDir()
			tio, err := tc.s.creator()("c3")
			if err != nil {
				t.Fatal(err)
			}
			cfg := tio.Config()
			if (cfg.Stdin != "") != tc.in || (cfg.Stderr != "") != tc.errOK || cfg.Stdout == "" || cfg.Terminal != tc.s.terminal {
				t.Errorf("FIFOs %+v", cfg)
			}
			tio.Cancel()
			tio.Wait()
			_ = tio.Close()
		})
	}
}
