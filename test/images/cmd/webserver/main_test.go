package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe to write from the server goroutine
// while the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestServesPageWritesPidFileAndStops(t *testing.T) {
	root := t.TempDir()
	page := "<h1>Welcome to nginx!</h1>\n"
	if err := os.WriteFile(filepath.Join(root, "index.html"), []byte(page), 0o644); err != nil {
		t.Fatal(err)
	}
	pidFile := filepath.Join(t.TempDir(), "nginx.pid")
	opts, err := parseFlags([]string{"-listen", "127.0.0.1:0", "-root", root, "-pid-file", pidFile,
		"-name", "httpd", "-g", "daemon off;"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr syncBuffer
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- serve(ctx, opts, ready, &stdout, &stderr) }()
	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatalf("server ended early: %v", err)
	}

	resp, err := http.Get("http://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "Welcome to nginx!") {
		t.Fatalf("GET / = %d %q, want 200 with the welcome page", resp.StatusCode, body)
	}

	pid, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatalf("pid file: %v", err)
	}
	if strings.TrimSpace(string(pid)) != strconv.Itoa(os.Getpid()) {
		t.Fatalf("pid file holds %q, want %d", pid, os.Getpid())
	}
	if !strings.Contains(stderr.String(), "httpd") {
		t.Fatalf("startup log %q does not name the server; critest looks for it", stderr.String())
	}
	if !strings.Contains(stdout.String(), "GET /") {
		t.Fatalf("request log %q has no line for the request", stdout.String())
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("stopping: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("server did not stop")
	}
	if _, err := os.Stat(pidFile); !os.IsNotExist(err) {
		t.Fatalf("pid file left behind after stop (stat err %v)", err)
	}
}

func TestRejectsStrayArguments(t *testing.T) {
	if _, err := parseFlags([]string{"extra"}, io.Discard); err == nil {
		t.Fatal("want an error for a stray argument")
	}
}
