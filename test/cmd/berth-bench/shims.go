package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	taskapi "github.com/containerd/containerd/api/runtime/task/v3"
	"github.com/containerd/ttrpc"
)

// A runtime's shims are found through the sockets they serve, not by
// their command lines. containerd's shim manager puts each shim's socket
// in its socket_dir (berthd: <state>/s; bench.sh's containerd: the
// socket_dir of its config), named by a hash of containerd's address, the
// namespace and the shim's ID (pkg/shim CreateSocketAddress). The shim's
// own task API answers Connect with its PID, as containerd's integration
// tests ask for it. The socket's peer credentials (SO_PEERCRED) would not
// do: they are those of the process that called listen(), and that is the
// short-lived `containerd-shim-runc-v2 start`, which hands the socket to
// the shim it starts and exits.

// shimDialTimeout bounds one shim's answer. A socket that does not answer
// in time is not counted: a shim going away, or a shim's debug socket
// (with containerd at debug level), which serves pprof, not ttrpc.
const shimDialTimeout = 2 * time.Second

// shimPIDFunc asks the shim serving the socket at path for its PID.
type shimPIDFunc func(ctx context.Context, path string) (int, error)

// shimPIDs returns the PIDs of the shims serving the sockets in dir, each
// once and in order. A socket that no shim answers on (left behind, or
// not a shim's task API) is skipped; a missing dir means no shims.
func shimPIDs(ctx context.Context, dir string, pidOf shimPIDFunc) ([]int, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, e := range entries {
		if e.Type()&fs.ModeSocket == 0 {
			continue
		}
		pid, err := pidOf(ctx, filepath.Join(dir, e.Name()))
		if err != nil || pid <= 0 {
			continue
		}
		if !slices.Contains(pids, pid) {
			pids = append(pids, pid)
		}
	}
	slices.Sort(pids)
	return pids, nil
}

// shimPID asks the shim serving the socket at path for its PID, through
// the task API (v3, what the pinned containerd's shims serve).
func shimPID(ctx context.Context, path string) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, shimDialTimeout)
	defer cancel()
	conn, err := (&net.Dialer{}).DialContext(ctx, "unix", path)
	if err != nil {
		return 0, err
	}
	client := ttrpc.NewClient(conn)
	defer client.Close()
	resp, err := taskapi.NewTTRPCTaskClient(client).Connect(ctx, &taskapi.ConnectRequest{})
	if err != nil {
		return 0, fmt.Errorf("shim at %s: Connect: %w", path, err)
	}
	return int(resp.GetShimPid()), nil
}

// parseDirs reads "berth=/a/s,containerd=/b/s": each runtime's shim
// socket directory.
func parseDirs(spec string) (map[string]string, error) {
	out := map[string]string{}
	if spec == "" {
		return out, nil
	}
	for _, part := range strings.Split(spec, ",") {
		name, dir, ok := strings.Cut(part, "=")
		if !ok || name == "" || !filepath.IsAbs(dir) {
			return nil, fmt.Errorf("shim sockets %q: want name=/absolute/dir", part)
		}
		out[name] = dir
	}
	return out, nil
}
