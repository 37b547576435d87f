package main

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// What kubelet's /pods gives for static pods: one Ready, one not yet, one
// with no conditions at all (just added).
const podsJSON = `{"kind":"PodList","items":[
 {"metadata":{"name":"a"},"status":{"conditions":[{"type":"Initialized","status":"True"},{"type":"Ready","observedGeneration":1,"status":"True"}]}},
 {"metadata":{"name":"b"},"status":{"conditions":[{"type":"Ready","status":"False"},{"type":"ContainersReady","status":"True"}]}},
 {"metadata":{"name":"c"},"status":{}}]}`

func TestCountReadyCountsPodsWithReadyTrue(t *testing.T) {
	var pl podList
	if err := json.Unmarshal([]byte(podsJSON), &pl); err != nil {
		t.Fatal(err)
	}
	if n := countReady(pl); n != 1 {
		t.Fatalf("countReady = %d, want 1 (only pod a is Ready)", n)
	}
}

func TestRunTimesFromTheChangeToTheSampleThatMetTheCondition(t *testing.T) {
	changed, samples := false, 0
	change := func() error { changed = true; return nil }
	done := func(context.Context) (bool, error) {
		if !changed {
			t.Fatal("sampled before the change")
		}
		samples++
		switch samples {
		case 1:
			return false, errors.New("kubelet between answers")
		case 2:
			return false, nil
		}
		return true, nil
	}
	d, err := run(context.Background(), change, done, 20*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if samples != 3 {
		t.Fatalf("%d samples, want 3: a failed sample is retried, a met one ends it", samples)
	}
	if d < 40*time.Millisecond {
		t.Fatalf("elapsed %s, want at least the two intervals slept", d)
	}
}

func TestRunGivesUpWithTheLastError(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	done := func(context.Context) (bool, error) { return false, errors.New("connection refused") }
	_, err := run(ctx, func() error { return nil }, done, 10*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("err = %v, want the timeout with the last sample's error", err)
	}
}

func TestManifestsMoveWholeAndGo(t *testing.T) {
	from, to := t.TempDir(), t.TempDir()
	for _, n := range []string{"kb1-1.yaml", "kb1-2.yaml"} {
		if err := os.WriteFile(filepath.Join(from, n), []byte("kind: Pod\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := moveManifests(from, to); err != nil {
		t.Fatal(err)
	}
	if left, _ := filepath.Glob(filepath.Join(from, "*.yaml")); len(left) != 0 {
		t.Fatalf("left in staging: %v", left)
	}
	moved, _ := filepath.Glob(filepath.Join(to, "*.yaml"))
	if len(moved) != 2 {
		t.Fatalf("moved %v, want both manifests", moved)
	}
	if err := moveManifests(from, to); err == nil {
		t.Fatal("moving from an empty staging dir succeeded: a round with no pods would time nothing")
	}
	if err := removeManifests(to); err != nil {
		t.Fatal(err)
	}
	if left, _ := filepath.Glob(filepath.Join(to, "*.yaml")); len(left) != 0 {
		t.Fatalf("left in staticPodPath: %v", left)
	}
}
