// Command berth-criloop calls a CRI runtime's Version and ListPodSandbox
// every interval, as kubelet's status and PLEG loops do, until SIGTERM or
// SIGINT, and reports every failure: what a node sees of its runtime while
// the runtime is upgraded (hack/e2e-cluster.sh). It uses one gRPC
// connection throughout, as kubelet does, and also dials the socket afresh
// each round, as crictl does, so a refused connection shows even when the
// long-lived connection would have hidden it by waiting to reconnect.
//
// It prints "rounds N errors M slowest D" last and exits 1 if any call
// failed.
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

func main() {
	socket := flag.String("socket", "/run/berth/berth.sock", "the CRI socket")
	interval := flag.Duration("interval", 50*time.Millisecond, "time between rounds")
	timeout := flag.Duration("timeout", 2*time.Minute, "timeout of each call (kubelet's runtime-request-timeout)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := run(ctx, *socket, *interval, *timeout); err != nil {
		fmt.Fprintln(os.Stderr, "berth-criloop:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, socket string, interval, timeout time.Duration) error {
	conn, err := grpc.NewClient("unix://"+socket, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer conn.Close()
	rt := runtimeapi.NewRuntimeServiceClient(conn)
	var rounds, failures int
	var slowest time.Duration
	report := func(what string, err error) {
		failures++
		fmt.Printf("%s %s: %v\n", time.Now().UTC().Format(time.RFC3339Nano), what, err)
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			fmt.Printf("rounds %d errors %d slowest %v\n", rounds, failures, slowest.Round(time.Millisecond))
			if failures > 0 {
				return fmt.Errorf("%d of %d rounds' calls failed", failures, rounds)
			}
			return nil
		case <-tick.C:
		}
		start := time.Now()
		if c, err := net.DialTimeout("unix", socket, time.Second); err != nil {
			report("dial", err)
		} else {
			c.Close()
		}
		// Not the signal's context: a call in flight at SIGTERM finishes.
		callCtx, cancel := context.WithTimeout(context.Background(), timeout)
		if _, err := rt.Version(callCtx, &runtimeapi.VersionRequest{}); err != nil {
			report("Version", err)
		}
		if _, err := rt.ListPodSandbox(callCtx, &runtimeapi.ListPodSandboxRequest{}); err != nil {
			report("ListPodSandbox", err)
		}
		cancel()
		rounds++
		slowest = max(slowest, time.Since(start))
	}
}
