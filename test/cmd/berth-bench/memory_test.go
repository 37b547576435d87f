package main

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
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

// smaps_rollup as Linux 6.18 writes it: Pss is one line among Pss_*.
const rollupSample = "00400000-7ffd6c9f4000 ---p 00000000 00:00 0                          [rollup]\n" +
	"Rss:               54476 kB\nPss:               33020 kB\nPss_Dirty:         30208 kB\n" +
	"Pss_Anon:          30208 kB\nPss_File:           2812 kB\nPss_Shmem:             0 kB\n"

func TestKibField(t *testing.T) {
	for _, tc := range []struct {
		text, key string
		want      int64
	}{
		{statusSample, "VmRSS", 54476},
		{statusSample, "VmHWM", 60120},
		{statusSample, "RssAnon", 30208},
		{statusSample, "RssFile", 24268},
		{rollupSample, "Pss", 33020},
		{rollupSample, "Pss_File", 2812},
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

// fakeProc writes a /proc with one process per PID, each with
// statusSample and rollupSample.
func fakeProc(t *testing.T, pids ...int) string {
	t.Helper()
	proc := t.TempDir()
	for _, pid := range pids {
		dir := filepath.Join(proc, strconv.Itoa(pid))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "status"), []byte(statusSample), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "smaps_rollup"), []byte(rollupSample), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return proc
}

func TestShimsMemory(t *testing.T) {
	dir := socketDir(t, "a", "b", "c")
	// Shim c's process exits between its answer and the read.
	proc := fakeProc(t, 10, 11)
	pidOf := fakeShims(map[string]int{"a": 10, "b": 11, "c": 12})
	got, err := shimsMemory(context.Background(), proc, dir, pidOf)
	if err != nil {
		t.Fatal(err)
	}
	if want := (memory{procs: 2, rss: 2 * 54476, anon: 2 * 30208, pss: 2 * 33020}); got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
	if _, err := processMemory(proc, 99); err == nil {
		t.Error("missing process: no error")
	}
}
