package checkpoint

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	criu "github.com/checkpoint-restore/go-criu/v7"
	criuutils "github.com/checkpoint-restore/go-criu/v7/utils"
	"github.com/containerd/errdefs"
)

// probeTimeout bounds `criu check`, which takes well under a second.
const probeTimeout = 30 * time.Second

// Probe is what one look at the node found out about CRIU.
type Probe struct {
	// Path is the criu binary runc will run; empty when there is none.
	Path string
	// Version is CRIU's version as go-criu gives it (31701 is 3.17.1); 0
	// when it could not be read.
	Version    int
	VersionErr error
	// CheckErr is how `criu check` failed, nil when it passed; Output is
	// what it printed.
	CheckErr error
	Output   string
	// VDSOMaps are the vDSO-related lines of /proc/self/maps, which name the
	// kernel's layout when CRIU cannot read it.
	VDSOMaps []string
}

// Checker answers whether CRIU can checkpoint and restore on this node. It
// looks once and keeps the answer: neither the kernel nor the criu binary
// changes under a running berthd, and `criu check` costs a fork and a
// kernel probe on every call.
type Checker struct {
	once  sync.Once
	err   error
	probe func(context.Context) Probe
}

// NewChecker returns a Checker that probes the criu binary on PATH, the one
// runc runs for the runc v2 shim.
func NewChecker() *Checker { return &Checker{probe: probeNode} }

// NewCheckerFunc returns a Checker whose probe is fn: for tests.
func NewCheckerFunc(fn func(context.Context) Probe) *Checker { return &Checker{probe: fn} }

// Check returns nil when CRIU works here, else an errdefs.ErrFailedPrecondition
// naming what is missing.
func (c *Checker) Check(ctx context.Context) error {
	c.once.Do(func() {
		// The answer is kept, so it must not be the cancellation of the
		// first request that asked.
		pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), probeTimeout)
		defer cancel()
		c.err = Verdict(c.probe(pctx))
	})
	return c.err
}

func probeNode(ctx context.Context) Probe {
	var p Probe
	path, err := exec.LookPath("criu")
	if err != nil {
		return p
	}
	p.Path = path
	client := criu.MakeCriu()
	client.SetCriuPath(path)
	p.Version, p.VersionErr = client.GetCriuVersion()
	out, err := exec.CommandContext(ctx, path, "check").CombinedOutput()
	p.CheckErr, p.Output = err, string(out)
	if maps, err := os.ReadFile("/proc/self/maps"); err == nil {
		p.VDSOMaps = vdsoLines(string(maps))
	}
	return p
}

// vdsoLines keeps the mapping names of the vDSO and vvar areas.
func vdsoLines(maps string) []string {
	var names []string
	for _, line := range strings.Split(maps, "\n") {
		fields := strings.Fields(line)
		if len(fields) < 6 {
			continue
		}
		if name := fields[len(fields)-1]; name == "[vdso]" || strings.HasPrefix(name, "[vvar") {
			names = append(names, name)
		}
	}
	return names
}

// Verdict turns a Probe into nil or a FailedPrecondition that says what is
// missing, in words an operator can act on.
func Verdict(p Probe) error {
	if p.Path == "" {
		return fmt.Errorf("checkpoint/restore needs CRIU, and no criu binary is on PATH (Debian: apt-get install criu): %w", errdefs.ErrFailedPrecondition)
	}
	if p.VersionErr != nil {
		return fmt.Errorf("checkpoint/restore needs CRIU, and %s does not answer its version: %v: %w", p.Path, p.VersionErr, errdefs.ErrFailedPrecondition)
	}
	if p.Version < criuutils.PodCriuVersion {
		return fmt.Errorf("checkpoint/restore needs CRIU %s or newer, %s is %s: %w",
			FormatVersion(criuutils.PodCriuVersion), p.Path, FormatVersion(p.Version), errdefs.ErrFailedPrecondition)
	}
	if p.CheckErr == nil {
		return nil
	}
	why := criuErrors(p.Output)
	if hasVVARVClock(p.VDSOMaps) && strings.Contains(strings.ToLower(p.Output), "vdso") {
		// Linux 6.13 (e93d2521b27f, "x86/vdso: Split virtual clock pages into
		// dedicated mapping") split [vvar] in two; CRIU before 4.1 expects
		// vvar and vdso to be one contiguous pair and gives up in its kernel
		// feature detection, before it looks at any process.
		// checkpoint-restore/criu#2532, fixed by #2539 in CRIU 4.1.
		return fmt.Errorf("checkpoint/restore is not possible on this node: CRIU %s cannot read this kernel's vDSO layout "+
			"(the kernel maps %s; Linux 6.13 split [vvar_vclock] out of [vvar], which CRIU understands from 4.1 on), "+
			"so `criu check` fails: %s: %w",
			FormatVersion(p.Version), strings.Join(p.VDSOMaps, " "), why, errdefs.ErrFailedPrecondition)
	}
	return fmt.Errorf("checkpoint/restore is not possible on this node: `criu check` (CRIU %s) fails: %s: %w",
		FormatVersion(p.Version), why, errdefs.ErrFailedPrecondition)
}

func hasVVARVClock(maps []string) bool {
	for _, m := range maps {
		if m == "[vvar_vclock]" {
			return true
		}
	}
	return false
}

// criuErrors keeps CRIU's "Error (file:line): ..." lines, which say why;
// the rest of its output is progress. With none, the whole output is kept.
func criuErrors(out string) string {
	var errs []string
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimSpace(line)
		if strings.Contains(line, "Error (") {
			errs = append(errs, line[strings.Index(line, "Error ("):])
		}
	}
	if len(errs) == 0 {
		return strings.TrimSpace(out)
	}
	return strings.Join(errs, "; ")
}

// FormatVersion writes go-criu's version number as CRIU does: 31701 is
// 3.17.1.
func FormatVersion(v int) string {
	s := fmt.Sprintf("%d.%d", v/10000, v/100%100)
	if v%100 != 0 {
		s += fmt.Sprintf(".%d", v%100)
	}
	return s
}
