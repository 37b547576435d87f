package idindex

import (
	"strings"
	"testing"

	"github.com/containerd/errdefs"
)

func TestGetByIDAndPrefix(t *testing.T) {
	x := New[string]("sandbox")
	x.Add("abc123", "first")
	x.Add("abd456", "second")
	for _, tc := range []struct {
		query, want string
		check       func(error) bool
	}{
		{"abc123", "first", nil},
		{"abc", "first", nil},
		{"abd4", "second", nil},
		{"ab", "", errdefs.IsInvalidArgument},
		{"", "", errdefs.IsInvalidArgument},
		{"zzz", "", errdefs.IsNotFound},
	} {
		got, err := x.Get(tc.query)
		if tc.check != nil {
			if !tc.check(err) {
				t.Errorf("Get(%q): unexpected error class %v", tc.query, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("Get(%q) = %q, %v; want %q", tc.query, got, err, tc.want)
		}
	}
	x.Delete("abc123")
	if got, err := x.Get("ab"); err != nil || got != "second" {
		t.Fatalf("after delete the prefix is unique again: %q %v", got, err)
	}
	if n := len(x.List()); n != 1 {
		t.Fatalf("List has %d items", n)
	}
}

func TestAnIDThatPrefixesAnotherStillFindsItself(t *testing.T) {
	x := New[int]("container")
	x.Add("ab", 1)
	x.Add("abc", 2)
	if v, err := x.Get("ab"); err != nil || v != 1 {
		t.Fatalf("exact match must win over prefix matches: %d %v", v, err)
	}
}

// FuzzGet: every RPC that names a sandbox or container by ID resolves it
// here, from whatever the request holds. No panic; an ID or unique prefix
// finds its object; anything else is NotFound or InvalidArgument.
func FuzzGet(f *testing.F) {
	ids := []string{"86d4679a80ae1bb6", "86d4679a80ae1bb7", "0f3c"}
	x := New[string]("sandbox")
	for _, id := range ids {
		x.Add(id, id)
	}
	for _, seed := range []string{"86d4", "86d4679a80ae1bb6", "0", "", "zz", "86d4679a80ae1bb6x"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, query string) {
		got, err := x.Get(query)
		switch {
		case err == nil:
			if !strings.HasPrefix(got, query) {
				t.Fatalf("Get(%q) = %q, which it does not prefix", query, got)
			}
		case !errdefs.IsNotFound(err) && !errdefs.IsInvalidArgument(err):
			t.Fatalf("Get(%q): error of no class: %v", query, err)
		}
	})
}
