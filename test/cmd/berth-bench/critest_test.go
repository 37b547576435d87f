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
	report(&out, rts, false, false)
	if !strings.Contains(out.String(), "pod/CreatePod") || !strings.Contains(out.String(), "573.6") {
		t.Errorf("report lacks berth's CreatePod median:\n%s", out.String())
	}
}

// Two runs of each runtime (bench.sh runs critest in blocks of berth,
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

// bench.sh records each run's CPU steal beside critest's results; a run
// without the file shows as "?", and when no run has one nothing is shown.
func TestLoadCritestSteal(t *testing.T) {
	dir := t.TempDir()
	b1, b2, c1 := filepath.Join(dir, "b1"), filepath.Join(dir, "b2"), filepath.Join(dir, "c1")
	copyDir(t, "testdata/critest/berth", b1)
	copyDir(t, "testdata/critest/berth", b2)
	copyDir(t, "testdata/critest/containerd", c1)
	if err := os.WriteFile(filepath.Join(b1, "cpu-steal"), []byte("12.5\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	rts, err := loadCritest("berth=" + b1 + "+" + b2 + ",containerd=" + c1)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := rts[0].steal, []string{"12.5", "?"}; !reflect.DeepEqual(got, want) {
		t.Errorf("berth steal %q, want %q", got, want)
	}
	var out strings.Builder
	reportSteal(&out, rts)
	if !strings.Contains(out.String(), "berth: 12.5, ?") || !strings.Contains(out.String(), "containerd: ?") {
		t.Errorf("steal report:\n%s", out.String())
	}

	rts, err = loadCritest("berth=" + b2 + ",containerd=" + c1)
	if err != nil {
		t.Fatal(err)
	}
	out.Reset()
	reportSteal(&out, rts)
	if out.Len() != 0 {
		t.Errorf("steal reported for runs that recorded none:\n%s", out.String())
	}
}

func TestStealPercent(t *testing.T) {
	from, err := parseCPUTicks("cpu  100 0 50 800 10 0 0 40 0 0\ncpu0 1 2 3 4 5 6 7 8 9 10\n")
	if err != nil {
		t.Fatal(err)
	}
	if from.steal != 40 || from.total != 1000 {
		t.Fatalf("parsed %+v, want steal 40 of 1000", from)
	}
	to := cpuTicks{steal: 40 + 25, total: 1000 + 500}
	if got := stealPercent(from, to); got != 5 {
		t.Errorf("steal %.2f%%, want 5%%", got)
	}
	if _, err := parseCPUTicks("intr 1 2 3\n"); err == nil {
		t.Error("a /proc/stat without a cpu line parsed")
	}
}

// copyDir copies the files of directory from into a new directory to.
func copyDir(t *testing.T, from, to string) {
	t.Helper()
	if err := os.MkdirAll(to, 0o755); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(from)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(from, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(to, e.Name()), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// A critest log's "start a container from scratch" report, as critest
// v1.37.0 prints it, gives one sample per run; a log without it, none.
func TestLoadCritestFromScratch(t *testing.T) {
	const report = `  Report Entries >>
  start-container-benchmark - sigs.k8s.io/cri-tools/pkg/benchmark/pod_container.go:54 @ 11/27/26 15:35:33.642
    start-container-benchmark
    Name                                       | N | Min   | Median | Mean  | StdDev | Max
    ========================================================================================
    create PodSandbox and container [duration] | 1 | 267ms | 267ms  | 267ms | 0s     | 267ms
  << Report Entries
`
	dir := t.TempDir()
	b1, b2, c1 := filepath.Join(dir, "b1"), filepath.Join(dir, "b2"), filepath.Join(dir, "c1")
	copyDir(t, "testdata/critest/berth", b1)
	copyDir(t, "testdata/critest/berth", b2)
	copyDir(t, "testdata/critest/containerd", c1)
	for file, text := range map[string]string{b1 + ".log": report, b2 + ".log": strings.ReplaceAll(report, "267ms", "1.5s"), c1 + ".log": "critest version: 1.37.0\n"} {
		if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	rts, err := loadCritest("berth=" + b1 + "+" + b2 + ",containerd=" + c1)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := rts[0].samples[fromScratchRow], []time.Duration{267 * time.Millisecond, 1500 * time.Millisecond}; !reflect.DeepEqual(got, want) {
		t.Errorf("berth %s = %v, want %v", fromScratchRow, got, want)
	}
	if got := rts[1].samples[fromScratchRow]; len(got) != 0 {
		t.Errorf("containerd %s = %v from a log without the report", fromScratchRow, got)
	}
}

// The quiet runs are those with at most quietSteal CPU steal; with fewer
// than two left for a runtime, or none dropped, there is no second table.
func TestQuietRuns(t *testing.T) {
	dir := t.TempDir()
	run := func(name, steal string) string {
		d := filepath.Join(dir, name)
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if steal != "" {
			if err := os.WriteFile(filepath.Join(d, "cpu-steal"), []byte(steal+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return d
	}
	b1, b2, b3 := run("b1", "0.4"), run("b2", "9.6"), run("b3", "2.0")
	c1, c2, c3 := run("c1", "1.1"), run("c2", "0.2"), run("c3", "")
	got, ok := quietRuns("berth="+b1+"+"+b2+"+"+b3+",containerd="+c1+"+"+c2+"+"+c3, quietSteal)
	if want := "berth=" + b1 + "+" + b3 + ",containerd=" + c1 + "+" + c2; !ok || got != want {
		t.Errorf("quietRuns = %q, %v; want %q", got, ok, want)
	}
	if _, ok := quietRuns("berth="+b1+"+"+b2+",containerd="+c1+"+"+c2, quietSteal); ok {
		t.Error("a runtime left with one quiet run still gets a table")
	}
	if _, ok := quietRuns("berth="+b1+"+"+b3+",containerd="+c1+"+"+c2, quietSteal); ok {
		t.Error("a second table when every run was quiet")
	}
}
