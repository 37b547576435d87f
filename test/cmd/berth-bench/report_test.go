package main

import (
	"strings"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	d := []time.Duration{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	for _, tc := range []struct {
		p    float64
		want time.Duration
	}{{50, 5}, {99, 10}, {10, 1}, {0, 1}} {
		if got := percentile(d, tc.p); got != tc.want {
			t.Errorf("p%.0f = %d, want %d", tc.p, got, tc.want)
		}
	}
	if percentile(nil, 50) != 0 {
		t.Error("empty samples")
	}
}

func TestReport(t *testing.T) {
	a := &runtimeEndpoint{name: "berth", samples: map[string][]time.Duration{}}
	b := &runtimeEndpoint{name: "containerd", samples: map[string][]time.Duration{}}
	for _, d := range []time.Duration{30, 10, 20} { // unsorted on purpose
		a.record("ListContainers (500)", d*time.Millisecond)
		b.record("ListContainers (500)", 4*d*time.Millisecond)
	}
	a.record("RunPodSandbox", 100*time.Millisecond)
	b.record("RunPodSandbox", 50*time.Millisecond)
	var out strings.Builder
	report(&out, []*runtimeEndpoint{a, b}, true, false)
	want := "| operation | n | berth median (ms) | berth p99 (ms) | containerd median (ms) | containerd p99 (ms) | berth / containerd |\n" +
		"|---|---|---|---|---|---|---|\n" +
		"| ListContainers (500) | 3 | 20.0 | 30.0 | 80.0 | 120.0 | 0.25 |\n" +
		"| RunPodSandbox | 1 | 100.0 | 100.0 | 50.0 | 50.0 | 2.00 |\n"
	if got := out.String(); !strings.HasPrefix(got, want) {
		t.Errorf("got\n%s\nwant it to start with\n%s", got, want)
	}
}

func TestReportMemory(t *testing.T) {
	rts := []*runtimeEndpoint{{name: "berth"}, {name: "containerd"}}
	res := []memoryResult{
		{pods: 100, idle: memorySample{runtime: memory{2, 80 << 10, 60 << 10, 70 << 10}},
			loaded: memorySample{runtime: memory{2, 120 << 10, 90 << 10, 100 << 10}, shims: memory{100, 1000 << 10, 500 << 10, 600 << 10},
				each: []memory{{1, 40 << 10, 40 << 10, 35 << 10}, {1, 80 << 10, 50 << 10, 65 << 10}}}},
		{pods: 100, idle: memorySample{runtime: memory{1, 50 << 10, 30 << 10, 40 << 10}},
			loaded: memorySample{runtime: memory{1, 100 << 10, 60 << 10, 80 << 10}, shims: memory{100, 1000 << 10, 500 << 10, 720 << 10},
				each: []memory{{1, 100 << 10, 60 << 10, 80 << 10}}}},
	}
	var out strings.Builder
	reportMemory(&out, rts, map[string][]int{"berth": {1, 2}, "containerd": {3}}, res, true)
	for _, want := range []string{
		"| runtime, no pods | 80.0 | 60.0 | 70.0 | 50.0 | 30.0 | 40.0 | 1.60 | 2.00 | 1.75 |",
		"| runtime, 100 pods | 120.0 | 90.0 | 100.0 | 100.0 | 60.0 | 80.0 | 1.20 | 1.50 | 1.25 |",
		"| shims, 100 pods (sum) | 1000.0 | 500.0 | 600.0 | 1000.0 | 500.0 | 720.0 | 1.00 | 1.00 | 0.83 |",
		"| runtime + shims, 100 pods | 1120.0 | 590.0 | 700.0 | 1100.0 | 560.0 | 800.0 | 1.02 | 1.05 | 0.88 |",
		"40.0 MiB RSS, 40.0 MiB anon, 35.0 MiB PSS",
		"80.0 MiB RSS, 50.0 MiB anon, 65.0 MiB PSS; 100 shims.\n",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("no %q in\n%s", want, out.String())
		}
	}
}

// Samples taken in turns: the k-th of each runtime saw the same load. A
// load that triples half-way through moves the medians' ratio, not the
// ratio of the pairs.
func TestPairedRatio(t *testing.T) {
	var a, b []time.Duration
	for k := range 20 {
		load := time.Duration(1)
		if k >= 10 {
			load = 3
		}
		a = append(a, 8*load*time.Millisecond)
		b = append(b, 10*load*time.Millisecond)
	}
	// Berth's one slow spell fell on a single sample of containerd's.
	b[3] = 40 * time.Millisecond
	med, lo, hi, ok := pairedRatio(a, b)
	if !ok || med != 0.8 || lo > 0.8 || hi < 0.8 || hi-lo > 0.01 {
		t.Errorf("paired ratio %.3f [%.3f, %.3f] ok %v, want 0.8 with a narrow interval", med, lo, hi, ok)
	}
	if _, _, _, ok := pairedRatio(a, b[:19]); ok {
		t.Error("a paired ratio of unequal counts")
	}
	if _, _, _, ok := pairedRatio(a[:minPairs-1], b[:minPairs-1]); ok {
		t.Errorf("a paired ratio of fewer than %d pairs", minPairs)
	}

	// Noisy pairs around 1.2: the interval holds the median and is wider.
	a, b = nil, nil
	for k := range 40 {
		base := time.Duration(50+k%7*10) * time.Millisecond
		a = append(a, base*6/5+time.Duration(k%5)*time.Millisecond)
		b = append(b, base)
	}
	med, lo, hi, _ = pairedRatio(a, b)
	if lo > med || hi < med || med < 1.2 || med > 1.3 || hi-lo <= 0 {
		t.Errorf("noisy pairs: %.3f [%.3f, %.3f]", med, lo, hi)
	}

	x := &runtimeEndpoint{name: "berth", samples: map[string][]time.Duration{}}
	y := &runtimeEndpoint{name: "containerd", samples: map[string][]time.Duration{}}
	for k := range a {
		x.record("ExecSync", a[k])
		y.record("ExecSync", b[k])
	}
	var out strings.Builder
	report(&out, []*runtimeEndpoint{x, y}, true, true)
	if !strings.Contains(out.String(), "| paired [95% CI] |") || !strings.Contains(out.String(), pairedCell(a, b)+" |") {
		t.Errorf("paired report:\n%s", out.String())
	}
}
