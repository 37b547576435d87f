package netns

import (
	"errors"
	"testing"

	"github.com/containerd/errdefs"
)

func TestCreateRejectsIDsThatCannotBeAFileName(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		dir  string
		id   string
	}{
		{name: "empty id", dir: dir, id: ""},
		{name: "dot dot", dir: dir, id: ".."},
		{name: "slash escapes dir", dir: dir, id: "a/../../etc"},
		{name: "leading dash", dir: dir, id: "-rf"},
		{name: "space", dir: dir, id: "a b"},
		{name: "empty dir", dir: "", id: "abc"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Create(tc.dir, tc.id)
			if !errors.Is(err, errdefs.ErrInvalidArgument) {
				t.Fatalf("Create(%q, %q) = %v, want an InvalidArgument error", tc.dir, tc.id, err)
			}
		})
	}
}
