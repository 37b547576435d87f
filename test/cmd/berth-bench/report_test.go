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
	report(&out, []*runtimeEndpoint{a, b}, true)
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
		{pods: 100, idle: memorySample{runtime: memory{2, 80 << 10, 60 << 10}},
			loaded: memorySample{runtime: memory{2, 120 << 10, 90 << 10}, shims: memory{100, 1000 << 10, 500 << 10},
				each: []memory{{1, 40 << 10, 40 << 10}, {1, 80 << 10, 50 << 10}}}},
		{pods: 100, idle: memorySample{runtime: memory{1, 50 << 10, 30 << 10}},
			loaded: memorySample{runtime: memory{1, 100 << 10, 60 << 10}, shims: memory{100, 1000 << 10, 500 << 10},
				each: []memory{{1, 100 << 10, 60 << 10}}}},
	}
	var out strings.Builder
	reportMemory(&out, rts, map[string][]int{"berth": {1, 2}, "containerd": {3}}, res, true)
	for _, want := range []string{
		"| runtime, no pods | 80.0 | 60.0 | 50.0 | 30.0 | 1.60 | 2.00 |",
		"| runtime, 100 pods | 120.0 | 90.0 | 100.0 | 60.0 | 1.20 | 1.50 |",
		"| shims, 100 pods (sum) | 1000.0 | 500.0 | 1000.0 | 500.0 | 1.00 | 1.00 |",
		"| runtime + shims, 100 pods | 1120.0 | 590.0 | 1100.0 | 560.0 | 1.02 | 1.05 |",
		"40.0 MiB RSS, 40.0 MiB anon",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("no %q in\n%s", want, out.String())
		}
	}
}
