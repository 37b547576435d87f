package main

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	taskapi "github.com/containerd/containerd/api/runtime/task/v3"
	"github.com/containerd/ttrpc"
)

// socketDir makes a directory with a listening unix socket for each name.
func socketDir(t *testing.T, names ...string) string {
	t.Helper()
	dir := t.TempDir()
	for _, n := range names {
		l, err := net.Listen("unix", filepath.Join(dir, n))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
	}
	return dir
}

// fakeShims answers for the sockets named in pids (by base name) with
// their PID, and for any other with an error, as a socket left behind
// refuses the connection.
func fakeShims(pids map[string]int) shimPIDFunc {
	return func(_ context.Context, path string) (int, error) {
		if pid, ok := pids[filepath.Base(path)]; ok {
			return pid, nil
		}
		return 0, errors.New("connection refused")
	}
}

func TestShimPIDs(t *testing.T) {
	for _, tc := range []struct {
		name    string
		sockets []string
		files   []string // plain files beside the sockets
		pids    map[string]int
		want    []int
	}{
		{
			name:    "one shim a socket, in PID order",
			sockets: []string{"aa", "bb", "cc"},
			pids:    map[string]int{"aa": 30, "bb": 10, "cc": 20},
			want:    []int{10, 20, 30},
		},
		{
			name:    "a shim's debug socket beside its socket counts it once",
			sockets: []string{"aa", "aa-debug", "bb"},
			pids:    map[string]int{"aa": 10, "aa-debug": 10, "bb": 11},
			want:    []int{10, 11},
		},
		{
			name:    "a socket left behind by a shim gone is skipped",
			sockets: []string{"aa", "stale"},
			pids:    map[string]int{"aa": 10},
			want:    []int{10},
		},
		{
			name:    "a plain file is not asked",
			sockets: []string{"aa"},
			files:   []string{"bb"},
			pids:    map[string]int{"aa": 10, "bb": 11},
			want:    []int{10},
		},
		{
			name:    "a PID of 0 is no shim",
			sockets: []string{"aa", "bb"},
			pids:    map[string]int{"aa": 10, "bb": 0},
			want:    []int{10},
		},
		{
			name: "no sockets, no shims",
			pids: map[string]int{},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := socketDir(t, tc.sockets...)
			for _, f := range tc.files {
				if err := os.WriteFile(filepath.Join(dir, f), nil, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			got, err := shimPIDs(context.Background(), dir, fakeShims(tc.pids))
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}

func TestShimPIDsMissingDir(t *testing.T) {
	// containerd makes the directory with its first shim.
	got, err := shimPIDs(context.Background(), filepath.Join(t.TempDir(), "s"), fakeShims(nil))
	if err != nil || got != nil {
		t.Errorf("got %v, %v; want no shims and no error", got, err)
	}
	file := filepath.Join(t.TempDir(), "s")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := shimPIDs(context.Background(), file, fakeShims(nil)); err == nil {
		t.Error("a file for the directory: no error")
	}
}

// fakeTaskService is a shim's task API that answers Connect only.
type fakeTaskService struct {
	taskapi.TTRPCTaskService
	pid uint32
}

func (f fakeTaskService) Connect(context.Context, *taskapi.ConnectRequest) (*taskapi.ConnectResponse, error) {
	return &taskapi.ConnectResponse{ShimPid: f.pid, TaskPid: 1}, nil
}

// serveShim serves a fake shim's task API at path.
func serveShim(t *testing.T, path string, pid uint32) {
	t.Helper()
	srv, err := ttrpc.NewServer()
	if err != nil {
		t.Fatal(err)
	}
	taskapi.RegisterTTRPCTaskService(srv, fakeTaskService{pid: pid})
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(context.Background(), l) }()
	t.Cleanup(func() { srv.Close() })
}

func TestShimPID(t *testing.T) {
	dir := t.TempDir()
	shim := filepath.Join(dir, "shim")
	serveShim(t, shim, 4321)
	// A listener that never answers, as a shim's debug socket serves pprof.
	silent := socketDir(t, "debug")

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if pid, err := shimPID(ctx, shim); err != nil || pid != 4321 {
		t.Errorf("shim: %d, %v; want 4321", pid, err)
	}
	if pid, err := shimPID(ctx, filepath.Join(dir, "gone")); err == nil {
		t.Errorf("no socket: %d, no error", pid)
	}
	short, cancelShort := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancelShort()
	if pid, err := shimPID(short, filepath.Join(silent, "debug")); err == nil {
		t.Errorf("silent socket: %d, no error", pid)
	}
	// What bench.sh gets: the fake shim found in its directory.
	if pids, err := shimPIDs(ctx, dir, shimPID); err != nil || !reflect.DeepEqual(pids, []int{4321}) {
		t.Errorf("shimPIDs: %v, %v; want [4321]", pids, err)
	}
}

func TestParseDirs(t *testing.T) {
	got, err := parseDirs("berth=/run/bb/bst/s,containerd=/run/bb/cs")
	if want := map[string]string{"berth": "/run/bb/bst/s", "containerd": "/run/bb/cs"}; err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, %v; want %v", got, err, want)
	}
	if got, err := parseDirs(""); err != nil || len(got) != 0 {
		t.Errorf("empty spec: %v, %v", got, err)
	}
	for _, bad := range []string{"berth", "berth=", "=/s", "berth=relative/s", "berth=/s,containerd"} {
		if _, err := parseDirs(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}
