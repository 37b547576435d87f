package unixsock

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

func TestListenMakesTheSocketWithItsMode(t *testing.T) {
	for _, perm := range []os.FileMode{0o600, 0o660} {
		path := filepath.Join(t.TempDir(), "x.sock")
		l, err := Listen(path, perm)
		if err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(path)
		if err != nil || fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != perm {
			t.Fatalf("socket %v, %v; want a socket with mode %o", fi.Mode(), err, perm)
		}
		go func() {
			if c, err := l.Accept(); err == nil {
				c.Close()
			}
		}()
		c, err := net.Dial("unix", path)
		if err != nil {
			t.Fatalf("dial the renamed socket: %v", err)
		}
		c.Close()
		if entries, _ := os.ReadDir(filepath.Dir(path)); len(entries) != 1 {
			t.Errorf("Listen left %v beside the socket", entries)
		}
		l.Close()
		if _, err := os.Lstat(path); !os.IsNotExist(err) {
			t.Errorf("Close left the socket: %v", err)
		}
	}
}

// umask is the process's, read without changing it.
func umask(t *testing.T) string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skip("no /proc/self/status to read the umask from")
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "Umask:"); ok {
			return strings.TrimSpace(v)
		}
	}
	t.Skip("no Umask line in /proc/self/status")
	return ""
}

// The umask is the whole process's: a goroutine that writes a file while a
// socket is being made must get the mode it asked for.
func TestListenLeavesTheUmaskAlone(t *testing.T) {
	want := umask(t)
	var stop atomic.Bool
	seen := make(chan string, 1)
	go func() {
		defer close(seen)
		for !stop.Load() {
			if u := umask(t); u != want {
				seen <- u
				return
			}
		}
	}()
	dir := t.TempDir()
	for i := range 300 {
		l, err := Listen(filepath.Join(dir, "s"+string(rune('a'+i%26))+".sock"), 0o660)
		if err != nil {
			t.Fatal(err)
		}
		l.Close()
	}
	stop.Store(true)
	if u, changed := <-seen; changed {
		t.Fatalf("the process umask changed to %s while a socket was made (it is %s)", u, want)
	}
}

// A socket handed on with File keeps its path and accepts, through the
// receiver's FromFile, the clients that connected while it changed hands:
// none of them is refused.
func TestHandedOnSocketKeepsServing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.sock")
	l, err := Listen(path, 0o660)
	if err != nil {
		t.Fatal(err)
	}
	f, err := l.(interface{ File() (*os.File, error) }).File()
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(path); err != nil {
		t.Fatalf("Close of a handed-on listener removed the socket: %v", err)
	}
	// Nobody accepts now, yet connecting succeeds: the kernel queues it.
	waiting, err := net.Dial("unix", path)
	if err != nil {
		t.Fatalf("dial between the two owners: %v", err)
	}
	defer waiting.Close()
	if _, err := waiting.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}

	l2, err := FromFile(f, path)
	if err != nil {
		t.Fatal(err)
	}
	c, err := l2.Accept()
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 5)
	if _, err := c.Read(buf); err != nil || string(buf) != "hello" {
		t.Fatalf("the receiver read %q, %v from the client queued meanwhile", buf, err)
	}
	c.Close()
	l2.Close()
	if _, err := os.Lstat(path); !os.IsNotExist(err) {
		t.Errorf("Close of the receiver's listener left the socket: %v", err)
	}
}

func TestFromFileRefusesATCPListener(t *testing.T) {
	tl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer tl.Close()
	f, err := tl.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	if l, err := FromFile(f, filepath.Join(t.TempDir(), "x.sock")); err == nil {
		l.Close()
		t.Fatal("FromFile took a TCP listener as the CRI socket")
	}
}
