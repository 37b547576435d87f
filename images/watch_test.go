package images

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	eventtypes "github.com/containerd/containerd/api/events"
	"github.com/containerd/containerd/v2/core/events"
	"github.com/containerd/errdefs"
	"github.com/containerd/typeurl/v2"
	"github.com/opencontainers/go-digest"
)

func TestWatcherQueuesEachNameOnceInOrder(t *testing.T) {
	var w watcher
	w.add("a") // before start: nobody would take it
	w.start()
	w.add("b", "c", "b", "")
	w.add("c", "d")
	var got []string
	for n, ok := w.take(); ok; n, ok = w.take() {
		got = append(got, n)
	}
	if want := []string{"b", "c", "d"}; !slices.Equal(got, want) {
		t.Fatalf("taken %v, want %v", got, want)
	}
	w.add("b") // taken names may be queued again
	if n, ok := w.take(); !ok || n != "b" {
		t.Fatalf("take after re-adding = %q, %v", n, ok)
	}
}

func TestWatcherWarnsOfAnUnusableImageOncePerTarget(t *testing.T) {
	var w watcher
	w.start()
	d1, d2 := digest.FromString("1"), digest.FromString("2")
	if !w.leftOut("x", d1) || w.leftOut("x", d1) {
		t.Fatal("want news once for the same target")
	}
	if !w.isLeftOut("x", d1) || w.isLeftOut("x", d2) {
		t.Fatal("a resync must skip the same target only")
	}
	if !w.leftOut("x", d2) {
		t.Fatal("a new target is news")
	}
	w.usable("x")
	if w.isLeftOut("x", d2) {
		t.Fatal("a usable name is not left out")
	}
}

func TestEventImageName(t *testing.T) {
	for _, tc := range []struct {
		event any
		want  string
	}{
		{&eventtypes.ImageCreate{Name: "docker.io/library/a:1"}, "docker.io/library/a:1"},
		{&eventtypes.ImageUpdate{Name: "docker.io/library/b:1"}, "docker.io/library/b:1"},
		{&eventtypes.ImageDelete{Name: "sha256:abc"}, "sha256:abc"},
		{&eventtypes.TaskOOM{ContainerID: "c"}, ""},
	} {
		a, err := typeurl.MarshalAny(tc.event)
		if err != nil {
			t.Fatal(err)
		}
		if got := eventImageName(&events.Envelope{Topic: "/images/x", Event: a}); got != tc.want {
			t.Errorf("eventImageName(%T) = %q, want %q", tc.event, got, tc.want)
		}
	}
	if got := eventImageName(&events.Envelope{}); got != "" {
		t.Errorf("empty envelope: %q", got)
	}
}

// TestOnlyContentErrorsLeaveAnImageOut: an image is left out of the index
// when its content is wrong, never because containerd did not answer
// (a restart in the middle of a refresh must not hide it).
func TestOnlyContentErrorsLeaveAnImageOut(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{fmt.Errorf("config for linux/amd64: %w", errdefs.ErrNotFound), true},
		{fmt.Errorf("config is not JSON: %w", errdefs.ErrDataLoss), true},
		{fmt.Errorf("read config: %w", errdefs.ErrUnavailable), false},
		{fmt.Errorf("read config: %w", context.DeadlineExceeded), false},
		{fmt.Errorf("read config: %w", context.Canceled), false},
		{errors.New("connection reset"), false},
	} {
		if got := isContentError(tc.err); got != tc.want {
			t.Errorf("isContentError(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}
