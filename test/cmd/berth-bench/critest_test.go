package main

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// testdata/critest holds what critest v1.37.0 -benchmark wrote against each
// runtime (three samples of each benchmark).
func TestLoadCritest(t *testing.T) {
	rts, err := loadCritest("berth=testdata/critest/berth,containerd=testdata/critest/containerd")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"pod/CreatePod", "pod/StatusPod", "pod/StopPod", "pod/RemovePod",
		"container/CreateContainer", "container/StartContainer", "container/StatusContainer",
		"container/StopContainer", "container/RemoveContainer",
		"image/PullImage", "image/StatusImage", "image/RemoveImage", "image/ListImages",
	}
	if !reflect.DeepEqual(rts[0].order, want) {
		t.Errorf("operations %q, want %q", rts[0].order, want)
	}
	if got, want := rts[0].samples["pod/CreatePod"], []time.Duration{408873478, 573556143, 848462811}; !reflect.DeepEqual(got, want) {
		t.Errorf("berth pod/CreatePod %v, want %v", got, want)
	}
	for _, rt := range rts {
		for _, op := range want {
			if n := len(rt.samples[op]); n != 3 {
				t.Errorf("%s %s: %d samples, want 3", rt.name, op, n)
			}
		}
	}
	var out strings.Builder
	report(&out, rts, false)
	if !strings.Contains(out.String(), "pod/CreatePod") || !strings.Contains(out.String(), "573.6") {
		t.Errorf("report lacks berth's CreatePod median:\n%s", out.String())
	}
}

// Two runs of each runtime (bench.sh runs critest in the order berth,
// containerd, containerd, berth): their samples are merged.
func TestLoadCritestMergesRuns(t *testing.T) {
	rts, err := loadCritest("berth=testdata/critest/berth+testdata/critest/berth,containerd=testdata/critest/containerd+testdata/critest/containerd")
	if err != nil {
		t.Fatal(err)
	}
	want := []time.Duration{408873478, 573556143, 848462811, 408873478, 573556143, 848462811}
	if got := rts[0].samples["pod/CreatePod"]; !reflect.DeepEqual(got, want) {
		t.Errorf("berth pod/CreatePod over two runs %v, want %v", got, want)
	}
	if n := len(rts[1].samples["image/PullImage"]); n != 6 {
		t.Errorf("containerd image/PullImage over two runs: %d samples, want 6", n)
	}
	// A run that lacks a file the other run of the same runtime has.
	partial := t.TempDir()
	data, err := os.ReadFile("testdata/critest/berth/pod_benchmark_data.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(partial, "pod_benchmark_data.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := loadCritest("berth=testdata/critest/berth+" + partial + ",containerd=testdata/critest/containerd"); err == nil {
		t.Error("a second berth run missing the container and image results: no error")
	}
}

func TestLoadCritestErrors(t *testing.T) {
	partial := t.TempDir() // the pod results only: the others are missing for one runtime
	data, err := os.ReadFile("testdata/critest/berth/pod_benchmark_data.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(partial, "pod_benchmark_data.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	short := t.TempDir() // a datapoint with fewer durations than operations
	for _, f := range critestFiles {
		data, err := os.ReadFile(filepath.Join("testdata/critest/berth", f.file))
		if err != nil {
			t.Fatal(err)
		}
		if f.file == "pod_benchmark_data.json" {
			data = []byte(`{"operationsNames": ["CreatePod", "StatusPod"], "datapoints": [{"operationsDurationsNs": [1]}]}`)
		}
		if err := os.WriteFile(filepath.Join(short, f.file), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, spec := range []string{
		"berth=testdata/critest/berth",            // nothing to compare with
		"berth=testdata/critest/berth,containerd", // no directory
		"berth=" + partial + ",containerd=testdata/critest/containerd",
		"berth=" + short + ",containerd=testdata/critest/containerd",
		"berth=" + t.TempDir() + ",containerd=" + t.TempDir(), // no results at all
	} {
		if _, err := loadCritest(spec); err == nil {
			t.Errorf("%s: no error", spec)
		}
	}
}
