package checkpoint

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
)

// debianCheck is what Debian 12's criu 3.17.1 prints for `criu check` on
// Linux 6.18.
const debianCheck = `Error (criu/vdso.c:381): vdso: Unexpected rt vDSO area bounds
Error (criu/vdso.c:613): vdso: Failed to fill self vdso symtable
Error (criu/kerndat.c:1615): kerndat_vdso_fill_symtable failed when initializing kerndat.
Error (criu/crtools.c:260): Could not initialize kernel features detection.
`

func TestVerdict(t *testing.T) {
	exit1 := errors.New("exit status 1")
	for _, tc := range []struct {
		name  string
		probe Probe
		want  []string // substrings of the error; nil: no error
	}{
		{"works", Probe{Path: "/usr/sbin/criu", Version: 40100}, nil},
		{"no binary", Probe{}, []string{"no criu binary is on PATH", "apt-get install criu"}},
		{"no version", Probe{Path: "/usr/sbin/criu", VersionErr: errors.New("swrk: broken pipe")}, []string{"/usr/sbin/criu does not answer its version", "broken pipe"}},
		{"too old", Probe{Path: "/usr/sbin/criu", Version: 31500}, []string{"CRIU 3.16 or newer", "/usr/sbin/criu is 3.15"}},
		{
			"vvar_vclock", Probe{Path: "/usr/sbin/criu", Version: 31701, CheckErr: exit1, Output: debianCheck,
				VDSOMaps: []string{"[vvar]", "[vvar_vclock]", "[vdso]"}},
			[]string{"CRIU 3.17.1 cannot read this kernel's vDSO layout", "[vvar] [vvar_vclock] [vdso]", "from 4.1 on",
				"Error (criu/vdso.c:381): vdso: Unexpected rt vDSO area bounds"},
		},
		{
			// The same failure without the split mapping is not blamed on it.
			"other vdso failure", Probe{Path: "/usr/sbin/criu", Version: 31701, CheckErr: exit1, Output: debianCheck,
				VDSOMaps: []string{"[vvar]", "[vdso]"}},
			[]string{"`criu check` (CRIU 3.17.1) fails", "Could not initialize kernel features detection"},
		},
		{
			"no error lines", Probe{Path: "/usr/sbin/criu", Version: 31701, CheckErr: exit1, Output: "Looks bad\n"},
			[]string{"fails: Looks bad: failed precondition"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Verdict(tc.probe)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Verdict = %v, want nil", err)
				}
				return
			}
			if !errdefs.IsFailedPrecondition(err) {
				t.Fatalf("Verdict = %v, want FailedPrecondition", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Verdict = %q, want it to contain %q", err, w)
				}
			}
		})
	}
}

func TestCheckerProbesOnce(t *testing.T) {
	probes := 0
	c := NewCheckerFunc(func(context.Context) Probe {
		probes++
		return Probe{}
	})
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // a cancelled first caller does not spoil the answer
	for range 3 {
		if err := c.Check(ctx); !errdefs.IsFailedPrecondition(err) {
			t.Fatalf("Check = %v, want FailedPrecondition", err)
		}
	}
	if probes != 1 {
		t.Errorf("probed %d times, want once", probes)
	}
}

func TestVDSOLines(t *testing.T) {
	maps := `5588ec954000-5588ec958000 r--p 00000000 fe:00 1234 /usr/bin/cat
7fb0743eb000-7fb0743ef000 r--p 00000000 00:00 0                          [vvar]
7fb0743ef000-7fb0743f1000 r--p 00000000 00:00 0                          [vvar_vclock]
7fb0743f1000-7fb0743f3000 r-xp 00000000 00:00 0                          [vdso]
7ffd1000-7ffd2000 rw-p 00000000 00:00 0                          [stack]
`
	got := strings.Join(vdsoLines(maps), " ")
	if want := "[vvar] [vvar_vclock] [vdso]"; got != want {
		t.Errorf("vdsoLines = %q, want %q", got, want)
	}
}

func TestFormatVersion(t *testing.T) {
	for v, want := range map[int]string{31701: "3.17.1", 31600: "3.16", 40100: "4.1", 0: "0.0"} {
		if got := FormatVersion(v); got != want {
			t.Errorf("FormatVersion(%d) = %q, want %q", v, got, want)
		}
	}
}

// TestProbeThisNode asks this node's criu, when it has one: the verdict
// must agree with `criu check`'s exit code.
func TestProbeThisNode(t *testing.T) {
	p := probeNode(context.Background())
	if p.Path == "" {
		t.Skip("no criu on PATH")
	}
	if p.Version == 0 {
		t.Errorf("criu %s gave no version: %v", p.Path, p.VersionErr)
	}
	err := Verdict(p)
	if (p.CheckErr == nil) != (err == nil) {
		t.Errorf("criu check error %v, verdict %v: they disagree", p.CheckErr, err)
	}
	t.Logf("criu %s at %s: %v", FormatVersion(p.Version), p.Path, err)
}
