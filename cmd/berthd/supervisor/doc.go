// Package supervisor runs the embedded containerd the way dockerd runs its
// own: it writes containerd's configuration under Berth's root and state
// directories, starts the daemon in its own process group, waits until it
// answers its gRPC health check, restarts it with backoff when it dies, and
// stops it on shutdown.
//
// It does not talk to containerd beyond the health check (cmd/berthd/app
// makes the client the other parts use), and it never touches containers: shims re-parent away from
// containerd, so pods keep running while containerd restarts.
package supervisor
