package streaming

import (
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	"k8s.io/cri-streaming/pkg/streaming/remotecommand"
)

// nopRuntime is a streaming Runtime that is never reached in these tests.
type nopRuntime struct{}

func (nopRuntime) Exec(context.Context, string, []string, io.Reader, io.WriteCloser, io.WriteCloser, bool, <-chan remotecommand.TerminalSize) error {
	return nil
}

func (nopRuntime) Attach(context.Context, string, io.Reader, io.WriteCloser, io.WriteCloser, bool, <-chan remotecommand.TerminalSize) error {
	return nil
}

func (nopRuntime) PortForward(context.Context, string, int32, io.ReadWriteCloser) error { return nil }

func TestURLsNameTheBoundPortAndAreSingleUse(t *testing.T) {
	s, err := NewServer("127.0.0.1:0", nil, nopRuntime{}, slog.Default())
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = s.Serve() }() // returns when the test closes the server
	defer s.Close()

	resp, err := s.GetExec(&runtimeapi.ExecRequest{ContainerId: "c1", Cmd: []string{"true"}, Stdout: true})
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(resp.Url)
	if err != nil {
		t.Fatal(err)
	}
	if u.Scheme != "http" || u.Host != s.Addr() || !strings.HasPrefix(u.Path, "/exec/") {
		t.Fatalf("exec URL %q, want http://%s/exec/<token>", resp.Url, s.Addr())
	}
	pf, err := s.GetPortForward(&runtimeapi.PortForwardRequest{PodSandboxId: "p1"})
	if err != nil || !strings.Contains(pf.Url, "/portforward/") {
		t.Fatalf("port-forward URL %v, %v", pf, err)
	}
	if _, err := s.GetAttach(&runtimeapi.AttachRequest{ContainerId: "c1", Tty: true, Stderr: true}); err == nil {
		t.Fatal("attach with a TTY and stderr was accepted; the library must refuse it")
	}

	// A plain GET is no stream upgrade: the first use consumes the token
	// whatever happens, and the second finds nothing.
	first, err := http.Get(resp.Url)
	if err != nil {
		t.Fatal(err)
	}
	first.Body.Close()
	second, err := http.Get(resp.Url)
	if err != nil {
		t.Fatal(err)
	}
	second.Body.Close()
	if second.StatusCode != http.StatusNotFound {
		t.Fatalf("second use of an exec URL: %s, want 404", second.Status)
	}
}

func TestTLSURLsAreHTTPS(t *testing.T) {
	s, err := NewServer("127.0.0.1:0", &tls.Config{}, nopRuntime{}, slog.Default())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	resp, err := s.GetExec(&runtimeapi.ExecRequest{ContainerId: "c1", Cmd: []string{"true"}, Stdout: true})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(resp.Url, "https://"+s.Addr()+"/exec/") {
		t.Fatalf("exec URL %q, want https on %s", resp.Url, s.Addr())
	}
}
