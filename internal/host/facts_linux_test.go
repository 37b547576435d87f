package host

import (
	"slices"
	"testing"
)

func TestSuperblockFlags(t *testing.T) {
	if got := superblockFlags("rw,nsdelegate,memory_recursiveprot"); !slices.Equal(got, []string{"nsdelegate", "memory_recursiveprot"}) {
		t.Errorf("superblockFlags = %q", got)
	}
	if got := superblockFlags("rw"); len(got) != 0 {
		t.Errorf("superblockFlags(rw) = %q, want none", got)
	}
}
