package main

import (
	"strings"
	"testing"
)

func TestLoadSamples(t *testing.T) {
	in := "# runtime\toperation\tns\n" +
		"berth\t10 static pods to Ready\t2000000000\n" +
		"containerd\t10 static pods to Ready\t4000000000\n" +
		"containerd\t10 static pods to Ready\t5000000000\n" +
		"berth\t10 static pods to Ready\t3000000000\n" +
		"berth\t10 static pods gone\t1000000000\n" +
		"containerd\t10 static pods gone\t1000000000\n"
	rts, err := loadSamples(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	report(&out, rts, true, true)
	for _, want := range []string{
		"| operation | n | berth median (ms) | berth p99 (ms) | containerd median (ms) | containerd p99 (ms) | berth / containerd | paired [95% CI] |",
		// Medians of two are the nearest-rank lower: 2 s against 4 s.
		"| 10 static pods to Ready | 2 | 2000.0 | 3000.0 | 4000.0 | 5000.0 | 0.50 | n/a |",
		"| 10 static pods gone | 1 | 1000.0 | 1000.0 | 1000.0 | 1000.0 | 1.00 | n/a |",
	} {
		if !strings.Contains(out.String(), want+"\n") {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
}

func TestLoadSamplesRefuses(t *testing.T) {
	for name, in := range map[string]string{
		"one runtime":   "berth\tx\t1\n",
		"no tabs":       "berth x 1\ncontainerd x 1\n",
		"not a number":  "berth\tx\t1s\ncontainerd\tx\t1\n",
		"zero duration": "berth\tx\t0\ncontainerd\tx\t1\n",
	} {
		if _, err := loadSamples(strings.NewReader(in)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
