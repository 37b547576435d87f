package app

import (
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestInheritedSocketParsesTheHandover(t *testing.T) {
	for _, tc := range []struct {
		name, value, path, wantErr string
	}{
		{name: "no path", value: "7", path: "/run/berth/berth.sock", wantErr: "want <fd>:<socket path>"},
		{name: "not a number", value: "x:/run/berth/berth.sock", path: "/run/berth/berth.sock", wantErr: "want <fd>:<socket path>"},
		{name: "stdio", value: "2:/run/berth/berth.sock", path: "/run/berth/berth.sock", wantErr: "want <fd>:<socket path>"},
		{name: "another socket", value: "-:/run/old.sock", path: "/run/berth/berth.sock", wantErr: "handed on another socket: the previous berthd served /run/old.sock, the configuration says /run/berth/berth.sock"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			value := tc.value
			if strings.HasPrefix(value, "-:") {
				// A real descriptor, which must be closed when refused.
				r, w, err := os.Pipe()
				if err != nil {
					t.Fatal(err)
				}
				defer w.Close()
				fd, err := dupFD(r)
				r.Close()
				if err != nil {
					t.Fatal(err)
				}
				value = strconv.Itoa(fd) + value[1:]
				defer func() {
					if _, err := os.Stat("/proc/self/fd/" + strconv.Itoa(fd)); err == nil {
						t.Errorf("refused descriptor %d left open", fd)
					}
				}()
			}
			_, err := inheritedSocket(value, tc.path)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("inheritedSocket(%q) = %v, want an error with %q", value, err, tc.wantErr)
			}
		})
	}
}

// The listener a previous berthd handed on is the one served, and the
// variable does not reach what berthd starts.
func TestCRIListenerTakesTheHandedOnSocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "berth.sock")
	t.Setenv(listenFDEnv, "") // restored after the test
	if err := os.Unsetenv(listenFDEnv); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	l, inherited, err := criListener(path, log)
	if err != nil || inherited {
		t.Fatalf("fresh start: inherited=%v err=%v", inherited, err)
	}
	h, err := prepareHandover(l, "/bin/true", path)
	if err != nil {
		t.Fatal(err)
	}
	l.Close() // as the old berthd's shutdown does
	// As across the exec: a bare descriptor, no *os.File owning it.
	fd, err := dupFD(h.file)
	if err != nil {
		t.Fatal(err)
	}
	h.file.Close()
	if err := os.Setenv(listenFDEnv, strconv.Itoa(fd)+":"+path); err != nil {
		t.Fatal(err)
	}

	l2, inherited, err := criListener(path, log)
	if err != nil || !inherited {
		t.Fatalf("after a handover: inherited=%v err=%v", inherited, err)
	}
	defer l2.Close()
	if _, ok := os.LookupEnv(listenFDEnv); ok {
		t.Errorf("%s still set: containerd would inherit it", listenFDEnv)
	}
	go func() {
		if c, err := l2.Accept(); err == nil {
			if _, err := c.Write([]byte("ok")); err != nil {
				t.Error(err)
			}
			c.Close()
		}
	}()
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	buf := make([]byte, 2)
	if _, err := c.Read(buf); err != nil || string(buf) != "ok" {
		t.Fatalf("read %q, %v through the inherited socket", buf, err)
	}
}

func TestCheckBinaryRefusesOneThatDoesNotRun(t *testing.T) {
	dir := t.TempDir()
	broken := filepath.Join(dir, "berthd")
	if err := os.WriteFile(broken, []byte("#!/bin/sh\necho cannot; exit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := checkBinary(t.Context(), broken); err == nil || !strings.Contains(err.Error(), "cannot") {
		t.Fatalf("checkBinary of a failing binary: %v", err)
	}
	fine := filepath.Join(dir, "ok")
	if err := os.WriteFile(fine, []byte("#!/bin/sh\necho berthd 9.9.9\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if v, err := checkBinary(t.Context(), fine); err != nil || v != "berthd 9.9.9" {
		t.Fatalf("checkBinary = %q, %v", v, err)
	}
}

func dupFD(f *os.File) (int, error) {
	return unix.Dup(int(f.Fd()))
}

// A socket handed on for another path (the upgrade moved it) is closed, and
// berthd listens where its configuration says rather than failing to start.
func TestCRIListenerListensAnewWhenTheSocketMoved(t *testing.T) {
	dir := t.TempDir()
	old, now := filepath.Join(dir, "old.sock"), filepath.Join(dir, "new.sock")
	t.Setenv(listenFDEnv, "")
	if err := os.Unsetenv(listenFDEnv); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	l, _, err := criListener(old, log)
	if err != nil {
		t.Fatal(err)
	}
	h, err := prepareHandover(l, "/bin/true", old)
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	fd, err := dupFD(h.file)
	if err != nil {
		t.Fatal(err)
	}
	h.file.Close()
	if err := os.Setenv(listenFDEnv, strconv.Itoa(fd)+":"+old); err != nil {
		t.Fatal(err)
	}
	l2, inherited, err := criListener(now, log)
	if err != nil || inherited {
		t.Fatalf("moved socket: inherited=%v err=%v; want a fresh listener", inherited, err)
	}
	defer l2.Close()
	// Closed, not kept: a client of the old path is refused rather than
	// left waiting in a backlog nobody accepts from.
	if c, err := net.Dial("unix", old); err == nil {
		c.Close()
		t.Errorf("the socket handed on for %s still takes connections", old)
	}
	c, err := net.Dial("unix", now)
	if err != nil {
		t.Fatalf("nobody listens at the configured %s: %v", now, err)
	}
	c.Close()
}
