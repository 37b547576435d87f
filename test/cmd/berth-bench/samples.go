package main

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// loadSamples reads timings taken outside berth-bench (hack/bench-kubelet.sh
// writes them), one a line: "runtime<TAB>operation<TAB>nanoseconds". The
// runtimes come in the order of their first line, so the first is the one
// compared. Each runtime's samples of an operation must have been taken in
// turns with the others' for the paired ratio to mean anything.
func loadSamples(r io.Reader) ([]*runtimeEndpoint, error) {
	var rts []*runtimeEndpoint
	byName := map[string]*runtimeEndpoint{}
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Split(line, "\t")
		if len(fields) != 3 {
			return nil, fmt.Errorf("line %d: want runtime, operation and nanoseconds separated by tabs, got %q", n, line)
		}
		ns, err := strconv.ParseInt(fields[2], 10, 64)
		if err != nil || ns <= 0 {
			return nil, fmt.Errorf("line %d: %q is not a positive count of nanoseconds", n, fields[2])
		}
		rt := byName[fields[0]]
		if rt == nil {
			rt = &runtimeEndpoint{name: fields[0], samples: map[string][]time.Duration{}}
			byName[fields[0]] = rt
			rts = append(rts, rt)
		}
		rt.record(fields[1], time.Duration(ns))
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(rts) < 2 {
		return nil, fmt.Errorf("need samples of at least two runtimes to compare, got %d", len(rts))
	}
	return rts, nil
}
