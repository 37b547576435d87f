package host

import (
	"errors"
	"strings"
	"testing"
)

// TestEnsureFilesystemLoadsTheModule: on Debian overlay is a module no one
// has loaded yet when berthd starts; berthd loads it rather than refuse to
// start, and says clearly what is wrong when it cannot.
func TestEnsureFilesystemLoadsTheModule(t *testing.T) {
	for _, tc := range []struct {
		name      string
		builtIn   bool
		loadErr   error
		loadWorks bool
		wantLoads int
		wantErr   string
	}{
		{"built in", true, nil, false, 0, ""},
		{"a module, loaded", false, nil, true, 1, ""},
		{"no module", false, errors.New("modprobe: FATAL: Module overlay not found"), false, 1, "Module overlay not found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			loaded, loads := tc.builtIn, 0
			has := func(string) bool { return loaded }
			load := func(name string) error {
				loads++
				if name != "overlay" {
					t.Errorf("loads module %q", name)
				}
				loaded = tc.loadWorks
				return tc.loadErr
			}
			err := ensureFilesystem("overlay", has, load)
			if loads != tc.wantLoads {
				t.Errorf("%d module loads, want %d", loads, tc.wantLoads)
			}
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("error %v, want none", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), "overlay")):
				t.Errorf("error %v, want one naming overlay and %q", err, tc.wantErr)
			}
		})
	}
}
