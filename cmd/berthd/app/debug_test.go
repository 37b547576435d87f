package app

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func get(t *testing.T, client *http.Client, url string) int {
	t.Helper()
	resp, err := client.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	_, _ = io.Copy(io.Discard, resp.Body) // only the status is asserted
	resp.Body.Close()
	return resp.StatusCode
}

// Scrapers reach the metrics address from off the node; pprof, which shows
// berthd's memory to whoever connects, is not served there.
func TestMetricsAddressDoesNotServePprof(t *testing.T) {
	ms, err := serveMetrics("127.0.0.1:0", prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	defer ms.Close()
	if code := get(t, http.DefaultClient, "http://"+ms.Addr+"/metrics"); code != http.StatusOK {
		t.Errorf("/metrics: %d", code)
	}
	for _, p := range []string{"/debug/pprof/", "/debug/pprof/cmdline", "/debug/pprof/heap"} {
		if code := get(t, http.DefaultClient, "http://"+ms.Addr+p); code != http.StatusNotFound {
			t.Errorf("%s on the metrics address: %d, want 404", p, code)
		}
	}
}

func TestDebugAddressServesPprofOnLoopbackOrASocket(t *testing.T) {
	ds, err := serveDebug("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ds.Close()
	if code := get(t, http.DefaultClient, "http://"+ds.Addr+"/debug/pprof/cmdline"); code != http.StatusOK {
		t.Errorf("pprof on the debug address: %d", code)
	}

	sock := filepath.Join(t.TempDir(), "debug.sock")
	us, err := serveDebug(sock)
	if err != nil {
		t.Fatal(err)
	}
	defer us.Close()
	if fi, err := os.Stat(sock); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("debug socket: %v %v, want mode 0600", fi.Mode(), err)
	}
	client := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
	}}}
	if code := get(t, client, "http://berthd/debug/pprof/cmdline"); code != http.StatusOK {
		t.Errorf("pprof on the debug socket: %d", code)
	}
}
