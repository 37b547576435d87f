package expect

import (
	"maps"
	"slices"
	"strings"
	"testing"
)

func TestRead(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     map[string]string
		wantErr  bool
	}{
		{"comments and blanks", "# header\n\n  a spec | its reason  \n", map[string]string{"a spec": "its reason"}, false},
		{"a name may hold a pipe without spaces", "a|b | why\n", map[string]string{"a|b": "why"}, false},
		{"no reason", "some spec\n", nil, true},
		{"empty reason", "some spec |  \n", nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Read(strings.NewReader(tc.in))
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if !tc.wantErr && !maps.Equal(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestVerdict(t *testing.T) {
	listed := map[string]string{
		"known": "r", "fixed": "r", "not reached": "r",
		"flaky failed": FlakyPrefix + "timing", "flaky passed": FlakyPrefix + "timing",
		"says flaky later": "r, not flaky: timing",
	}
	unexpected, gone := Verdict(
		[]string{"known", "new", "flaky failed"},
		[]string{"fixed", "other", "flaky passed", "says flaky later"},
		listed)
	if !slices.Equal(unexpected, []string{"new"}) {
		t.Errorf("unexpected = %v, want [new]", unexpected)
	}
	want := []string{"fixed", "says flaky later"}
	if !slices.Equal(gone, want) {
		t.Errorf("gone = %v, want %v: a listed name that did not run, or a flaky one that passed, is not judged", gone, want)
	}
}
