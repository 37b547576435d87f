package guard

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
)

func TestRecoverFailsTheWorkAndLogsTheStack(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	done := make(chan error, 1)
	go func() {
		defer Recover(log, "pull busybox", func(err error) { done <- err })
		var m map[string]int
		m["x"] = 1 //nolint:staticcheck // a nil map: a bug, not a crash of the node's runtime
	}()
	err := <-done
	if !errdefs.IsInternal(err) || !strings.Contains(err.Error(), "pull busybox") {
		t.Fatalf("the work's error = %v, want Internal naming it", err)
	}
	if !strings.Contains(buf.String(), "guard_test.go") || !strings.Contains(buf.String(), "nil map") {
		t.Errorf("the log lacks the panic and its stack:\n%s", buf.String())
	}
}

func TestRecoverWithoutAPanicDoesNothing(t *testing.T) {
	called := false
	func() {
		defer Recover(nil, "nothing", func(error) { called = true })
	}()
	if called {
		t.Fatal("fail was called with no panic")
	}
}
