package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// critestResults is the JSON critest -benchmark writes for each lifecycle
// benchmark into its -benchmarking-output-dir (cri-tools
// pkg/benchmark/util.go, LifecycleBenchmarksResultsSet): the names of the
// operations of one cycle, and per cycle the duration of each.
type critestResults struct {
	OperationsNames []string `json:"operationsNames"`
	NumParallel     int      `json:"numParallel"`
	Datapoints      []struct {
		OperationsDurationsNs []int64 `json:"operationsDurationsNs"`
	} `json:"datapoints"`
}

// critestFiles are the files critest v1.37 writes, in report order, with
// the prefix of their rows.
var critestFiles = []struct{ file, prefix string }{
	{"pod_benchmark_data.json", "pod"},
	{"container_benchmark_data.json", "container"},
	{"image_lifecycle_benchmark_data.json", "image"},
	{"image_listing_benchmark_data.json", "image"},
}

// parseCritest records into rt each operation's durations from data, one
// critest results file, as "prefix/Operation".
func parseCritest(rt *runtimeEndpoint, prefix string, data []byte) error {
	var res critestResults
	if err := json.Unmarshal(data, &res); err != nil {
		return err
	}
	if len(res.OperationsNames) == 0 {
		return errors.New("no operations")
	}
	for i, dp := range res.Datapoints {
		// critest logs and keeps a cycle with the wrong number of durations;
		// which is which would then be a guess.
		if len(dp.OperationsDurationsNs) != len(res.OperationsNames) {
			return fmt.Errorf("datapoint %d has %d durations for %d operations", i, len(dp.OperationsDurationsNs), len(res.OperationsNames))
		}
		for j, ns := range dp.OperationsDurationsNs {
			rt.record(prefix+"/"+res.OperationsNames[j], time.Duration(ns))
		}
	}
	return nil
}

// loadCritest reads, for every runtime of spec ("name=dir+dir...,..."), the
// files critest -benchmark wrote into each of its directories, one per run,
// and merges their samples. A file missing from every directory is a
// benchmark the params file did not ask for; missing from some only, an
// error.
func loadCritest(spec string) ([]*runtimeEndpoint, error) {
	var rts []*runtimeEndpoint
	dirs := map[*runtimeEndpoint][]string{}
	all := 0
	for _, part := range strings.Split(spec, ",") {
		name, list, ok := strings.Cut(part, "=")
		if !ok || list == "" {
			return nil, fmt.Errorf("critest results %q: want name=directory[+directory...]", part)
		}
		rt := &runtimeEndpoint{name: name, samples: map[string][]time.Duration{}}
		rts = append(rts, rt)
		dirs[rt] = strings.Split(list, "+")
		all += len(dirs[rt])
	}
	if len(rts) < 2 {
		return nil, fmt.Errorf("need at least two result directories to compare, got %d", len(rts))
	}
	recorded := false
	for _, rt := range rts {
		for _, dir := range dirs[rt] {
			steal, ok := runSteal(dir)
			if !ok {
				rt.steal = append(rt.steal, "?")
				continue
			}
			rt.steal = append(rt.steal, steal)
			recorded = true
		}
	}
	if !recorded {
		for _, rt := range rts {
			rt.steal = nil
		}
	}
	found := 0
	for _, f := range critestFiles {
		var missing []string
		for _, rt := range rts {
			for _, dir := range dirs[rt] {
				data, err := os.ReadFile(filepath.Join(dir, f.file))
				if errors.Is(err, fs.ErrNotExist) {
					missing = append(missing, dir)
					continue
				}
				if err != nil {
					return nil, err
				}
				if err := parseCritest(rt, f.prefix, data); err != nil {
					return nil, fmt.Errorf("%s: %s: %w", rt.name, f.file, err)
				}
			}
		}
		switch len(missing) {
		case 0:
			found++
		case all:
		default:
			return nil, fmt.Errorf("%s: missing in %s", f.file, strings.Join(missing, ", "))
		}
	}
	if found == 0 {
		return nil, errors.New("no critest benchmark results")
	}
	// critest's "start a container from scratch" benchmark writes no JSON:
	// its one sample per run is in the run's log, beside its directory.
	for _, rt := range rts {
		for _, dir := range dirs[rt] {
			data, err := os.ReadFile(strings.TrimSuffix(dir, "/") + ".log")
			if err != nil {
				continue
			}
			if d, ok := fromScratch(string(data)); ok {
				rt.record(fromScratchRow, d)
			}
		}
	}
	return rts, nil
}

// fromScratchRow is critest's pod-and-container benchmark: RunPodSandbox,
// CreateContainer, StartContainer, StopPodSandbox and RemovePodSandbox of a
// pod with one container, timed together.
const fromScratchRow = "pod/PodAndContainerFromScratch"

// fromScratch reads the duration of critest's "create PodSandbox and
// container" measurement from a critest log, where ginkgo's report has a
// row "create PodSandbox and container [duration] | 1 | 267ms | ...".
func fromScratch(log string) (time.Duration, bool) {
	for _, line := range strings.Split(log, "\n") {
		_, row, ok := strings.Cut(line, "create PodSandbox and container [duration]")
		if !ok {
			continue
		}
		cells := strings.Split(row, "|")
		if len(cells) < 4 || strings.TrimSpace(cells[1]) != "1" {
			continue
		}
		d, err := time.ParseDuration(strings.TrimSpace(cells[3])) // the median of one
		if err == nil && d > 0 {
			return d, true
		}
	}
	return 0, false
}
