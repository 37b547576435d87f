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
