package checkpoint

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
)

// CRIU's images are as large as the container's memory. A restore whose
// archive would not fit, with spaceMargin spare, unpacks nothing; one that
// fits unpacks.
func TestExtractArchiveChecksFreeSpaceFirst(t *testing.T) {
	src := writeCheckpointDir(t)
	big := make([]byte, 3<<20)
	if err := os.WriteFile(filepath.Join(src, CheckpointDir, "pages-2.img"), big, 0o600); err != nil {
		t.Fatal(err)
	}
	location := filepath.Join(t.TempDir(), "checkpoint.tar")
	if err := WriteArchive(src, location); err != nil {
		t.Fatal(err)
	}
	var asked string
	t.Cleanup(func() { freeSpace = statfsFree })
	for _, tc := range []struct {
		free uint64
		ok   bool
	}{
		{spaceMargin + 1<<20, false}, // 3 MiB of pages do not fit
		{spaceMargin + 4<<20, true},
	} {
		freeSpace = func(dir string) (uint64, error) { asked = dir; return tc.free, nil }
		dst := t.TempDir()
		err := ExtractArchive(location, dst)
		if asked != dst {
			t.Errorf("free space asked of %q, want the destination %q", asked, dst)
		}
		entries, _ := os.ReadDir(dst)
		if !tc.ok {
			if !errdefs.IsResourceExhausted(err) || !strings.Contains(err.Error(), "MiB free") {
				t.Errorf("free %d MiB: ExtractArchive = %v, want ResourceExhausted", tc.free>>20, err)
			}
			if len(entries) != 0 {
				t.Errorf("a refused restore unpacked %v", entries)
			}
			continue
		}
		if err != nil || len(entries) == 0 {
			t.Errorf("free %d MiB: ExtractArchive = %v, unpacked %d entries", tc.free>>20, err, len(entries))
		}
	}
}

func TestStatfsFreeReadsTheFilesystem(t *testing.T) {
	free, err := statfsFree(t.TempDir())
	if err != nil || free == 0 {
		t.Fatalf("statfsFree = %d, %v", free, err)
	}
}
