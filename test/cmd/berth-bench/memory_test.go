package main

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestParsePIDs(t *testing.T) {
	got, err := parsePIDs("berth=12+34,containerd=56")
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string][]int{"berth": {12, 34}, "containerd": {56}}; !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if got, err := parsePIDs(""); err != nil || len(got) != 0 {
		t.Errorf("empty spec: %v, %v", got, err)
	}
	for _, bad := range []string{"berth", "berth=", "=12", "berth=12+x", "berth=-1", "berth=1,containerd"} {
		if _, err := parsePIDs(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

// Lines as Linux 6.18 writes them.
const statusSample = "Name:\tcontainerd\nUmask:\t0022\nVmHWM:\t   60120 kB\nVmRSS:\t   54476 kB\n" +
	"RssAnon:\t   30208 kB\nRssFile:\t   24268 kB\nRssShmem:\t       0 kB\nThreads:\t13\n"

func TestKibField(t *testing.T) {
	for _, tc := range []struct {
		text, key string
		want      int64
	}{
		{statusSample, "VmRSS", 54476},
		{statusSample, "VmHWM", 60120},
		{statusSample, "RssAnon", 30208},
		{statusSample, "RssFile", 24268},
	} {
		got, err := kibField([]byte(tc.text), tc.key)
		if err != nil || got != tc.want {
			t.Errorf("%s = %d, %v; want %d", tc.key, got, err, tc.want)
		}
	}
	if _, err := kibField([]byte(statusSample), "Rss"); err == nil { // a prefix of RssAnon, not a field
		t.Error("missing field Rss: no error")
	}
	if _, err := kibField([]byte(statusSample), "VmSwap"); err == nil {
		t.Error("missing field: no error")
	}
	if _, err := kibField([]byte("Threads:\t13\n"), "Threads"); err == nil {
		t.Error("field without kB: no error")
	}
}

func TestShimID(t *testing.T) {
	for _, tc := range []struct {
		cmdline, want string
	}{
		{"/work/main/_output/bin/containerd-shim-runc-v2\x00-namespace\x00k8s.io\x00-id\x00a37c0c10\x00-address\x00/run/c.sock\x00", "a37c0c10"},
		{"containerd-shim-runc-v2\x00--id\x00b1\x00", "b1"},
		{"/usr/bin/sleep\x00-id\x003600\x00", ""},                   // not a shim
		{"containerd-shim-runc-v2\x00-namespace\x00k8s.io\x00", ""}, // no -id
		{"containerd-shim-runc-v2\x00-id\x00", ""},                  // -id last, no value
		{"", ""}, // a zombie's
	} {
		if got := shimID([]byte(tc.cmdline)); got != tc.want {
			t.Errorf("shimID(%q) = %q, want %q", tc.cmdline, got, tc.want)
		}
	}
}

// fakeProc writes a /proc with one process per cmdline, each with
// statusSample.
func fakeProc(t *testing.T, cmdlines map[string]string) string {
	t.Helper()
	proc := t.TempDir()
	for pid, cmdline := range cmdlines {
		dir := filepath.Join(proc, pid)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, text := range map[string]string{"cmdline": cmdline, "status": statusSample} {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	return proc
}

func TestShimsMemory(t *testing.T) {
	proc := fakeProc(t, map[string]string{
		"10": "containerd-shim-runc-v2\x00-id\x00pod-a\x00",
		"11": "containerd-shim-runc-v2\x00-id\x00pod-b\x00",
		"12": "containerd-shim-runc-v2\x00-id\x00someone-elses\x00",
		"13": "/pause\x00",
	})
	if err := os.MkdirAll(filepath.Join(proc, "self"), 0o755); err != nil {
		t.Fatal(err)
	}
	got, err := shimsMemory(proc, map[string]bool{"pod-a": true, "pod-b": true, "pod-gone": true})
	if err != nil {
		t.Fatal(err)
	}
	if want := (memory{procs: 2, rss: 2 * 54476, anon: 2 * 30208}); got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
	if _, err := processMemory(proc, 99); err == nil {
		t.Error("missing process: no error")
	}
}
