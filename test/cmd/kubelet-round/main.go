// Command kubelet-round times one side of a round of hack/bench-kubelet.sh
// from inside one process, so that the waiting costs the machine next to
// nothing: a shell loop that runs curl, grep and wc every 0.1 s spawns some
// fifty processes a second, on a machine where the runtimes under test
// spend their time spawning processes (shims, runc), and it took about a
// tenth of the CPU of every round.
//
//	kubelet-round ready --pods URL --count N --from DIR --to DIR
//
// renames every *.yaml in --from into --to (kubelet's staticPodPath), then
// reads kubelet's read-only /pods (URL) every --interval over one kept-alive
// connection until N pods have the Ready condition True.
//
//	kubelet-round stopped --endpoint SOCKET --label KEY=VALUE --dir DIR
//
// removes every *.yaml in --dir, then lists the runtime's READY sandboxes
// with that label over one CRI connection every --interval until there are
// none.
//
// Each prints the nanoseconds from its first change to the files to the
// sample that met the condition, and exits 1 after --timeout.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

func main() {
	if len(os.Args) < 2 {
		fail(errors.New("usage: kubelet-round ready|stopped [flags]"))
	}
	fs := flag.NewFlagSet("kubelet-round "+os.Args[1], flag.ExitOnError)
	var (
		podsURL  = fs.String("pods", "", "kubelet's read-only /pods URL (ready)")
		count    = fs.Int("count", 0, "pods that must be Ready (ready)")
		from     = fs.String("from", "", "directory the manifests are renamed from (ready)")
		to       = fs.String("to", "", "kubelet's staticPodPath (ready)")
		endpoint = fs.String("endpoint", "", "the runtime's CRI unix socket (stopped)")
		label    = fs.String("label", "", "KEY=VALUE every bench sandbox carries (stopped)")
		dir      = fs.String("dir", "", "kubelet's staticPodPath, emptied of *.yaml (stopped)")
		interval = fs.Duration("interval", 100*time.Millisecond, "time between samples")
		timeout  = fs.Duration("timeout", 300*time.Second, "give up after this long")
	)
	if err := fs.Parse(os.Args[2:]); err != nil {
		fail(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()

	var (
		change func() error
		done   func(context.Context) (bool, error)
	)
	switch os.Args[1] {
	case "ready":
		if *podsURL == "" || *count <= 0 || *from == "" || *to == "" {
			fail(errors.New("ready needs --pods, --count, --from and --to"))
		}
		change = func() error { return moveManifests(*from, *to) }
		client := &http.Client{Timeout: 5 * time.Second}
		done = func(ctx context.Context) (bool, error) {
			n, err := readyPods(ctx, client, *podsURL)
			return n == *count, err
		}
	case "stopped":
		key, value, ok := strings.Cut(*label, "=")
		if *endpoint == "" || !ok || *dir == "" {
			fail(errors.New("stopped needs --endpoint, --label KEY=VALUE and --dir"))
		}
		conn, err := grpc.NewClient("unix://"+*endpoint, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			fail(err)
		}
		defer func() { _ = conn.Close() }()
		rs := runtimeapi.NewRuntimeServiceClient(conn)
		change = func() error { return removeManifests(*dir) }
		done = func(ctx context.Context) (bool, error) {
			n, err := readySandboxes(ctx, rs, key, value)
			return n == 0, err
		}
	default:
		fail(fmt.Errorf("unknown mode %q: want ready or stopped", os.Args[1]))
	}

	elapsed, err := run(ctx, change, done, *interval)
	if err != nil {
		fail(err)
	}
	fmt.Println(elapsed.Nanoseconds())
}

// run makes the change, then samples done every interval until it is true,
// and returns the time from before the change to the sample that said so.
// A sample that fails is retried (kubelet may be between answers) and its
// error reported only if the context ends first.
func run(ctx context.Context, change func() error, done func(context.Context) (bool, error), interval time.Duration) (time.Duration, error) {
	t0 := time.Now()
	if err := change(); err != nil {
		return 0, err
	}
	var last error
	for {
		ok, err := done(ctx)
		if err == nil && ok {
			return time.Since(t0), nil
		}
		if err != nil {
			last = err
		}
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("not done after %s (last error: %v)", time.Since(t0).Round(time.Millisecond), last)
		case <-time.After(interval):
		}
	}
}

// moveManifests renames every *.yaml of from into to: within one file
// system kubelet sees each manifest whole.
func moveManifests(from, to string) error {
	names, err := filepath.Glob(filepath.Join(from, "*.yaml"))
	if err != nil {
		return err
	}
	if len(names) == 0 {
		return fmt.Errorf("no manifests in %s", from)
	}
	for _, n := range names {
		if err := os.Rename(n, filepath.Join(to, filepath.Base(n))); err != nil { //nolint:gosec // the bench script's own directories, and the manifests it wrote there
			return err
		}
	}
	return nil
}

func removeManifests(dir string) error {
	names, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return err
	}
	for _, n := range names {
		if err := os.Remove(n); err != nil { //nolint:gosec // the bench script's own directory, and the manifests it wrote there
			return err
		}
	}
	return nil
}

// podList is the part of kubelet's /pods answer (a v1 PodList) read here.
type podList struct {
	Items []struct {
		Status struct {
			Conditions []struct {
				Type   string `json:"type"`
				Status string `json:"status"`
			} `json:"conditions"`
		} `json:"status"`
	} `json:"items"`
}

// readyPods counts the pods of kubelet's /pods whose Ready condition is
// True (kubelet serves its status manager's view of static pods there).
func readyPods(ctx context.Context, client *http.Client, url string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	var pl podList
	if err := json.NewDecoder(resp.Body).Decode(&pl); err != nil {
		return 0, fmt.Errorf("GET %s: %w", url, err)
	}
	return countReady(pl), nil
}

func countReady(pl podList) int {
	n := 0
	for _, p := range pl.Items {
		for _, c := range p.Status.Conditions {
			if c.Type == "Ready" && c.Status == "True" {
				n++
				break
			}
		}
	}
	return n
}

// readySandboxes counts the runtime's READY sandboxes labelled key=value.
func readySandboxes(ctx context.Context, rs runtimeapi.RuntimeServiceClient, key, value string) (int, error) {
	resp, err := rs.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{Filter: &runtimeapi.PodSandboxFilter{
		State:         &runtimeapi.PodSandboxStateValue{State: runtimeapi.PodSandboxState_SANDBOX_READY},
		LabelSelector: map[string]string{key: value},
	}})
	if err != nil {
		return 0, err
	}
	return len(resp.GetItems()), nil
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "kubelet-round:", err)
	os.Exit(1)
}
