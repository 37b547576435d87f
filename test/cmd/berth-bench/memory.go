package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// memory is what a set of processes holds, in KiB:
//   - rss, resident (VmRSS);
//   - anon, of that the anonymous part (RssAnon: heap, stacks), which is
//     the process's own;
//   - pss, proportional (Pss of smaps_rollup): each resident page divided
//     by the number of processes mapping it. The rest of RSS is mostly the
//     binary's text, shared with every other process running the same file,
//     so a sum of RSS counts a shim binary's text once per shim; a sum of
//     PSS counts it once for all of them. The phase measures one runtime
//     at a time, the other idle beside it, so a runtime's shims share their
//     binary's pages among themselves; the two containerds (Berth's and
//     the one with CRI) run the same binary and split its shared pages.
type memory struct {
	procs          int
	rss, anon, pss int64
}

func (m memory) add(o memory) memory {
	return memory{procs: m.procs + o.procs, rss: m.rss + o.rss, anon: m.anon + o.anon, pss: m.pss + o.pss}
}

// memorySample is one runtime's memory at one moment.
type memorySample struct {
	runtime memory   // the runtime's own processes (--pids), all together
	each    []memory // the same, process by process, in --pids order
	shims   memory   // the runtime's shims (--shim-sockets): one a pod
}

// memoryResult is the memory phase's outcome for one runtime.
type memoryResult struct {
	idle, loaded memorySample
	pods         int
}

// parsePIDs reads "berth=1+2,containerd=3": each runtime's processes.
func parsePIDs(spec string) (map[string][]int, error) {
	out := map[string][]int{}
	if spec == "" {
		return out, nil
	}
	for _, part := range strings.Split(spec, ",") {
		name, list, ok := strings.Cut(part, "=")
		if !ok || name == "" || list == "" {
			return nil, fmt.Errorf("pids %q: want name=pid+pid", part)
		}
		for _, p := range strings.Split(list, "+") {
			pid, err := strconv.Atoi(p)
			if err != nil || pid <= 0 {
				return nil, fmt.Errorf("pids %q: %q is not a process ID", part, p)
			}
			out[name] = append(out[name], pid)
		}
	}
	return out, nil
}

// kibField returns the value of a "Key:   123 kB" line of a /proc status
// file.
func kibField(text []byte, key string) (int64, error) {
	for _, line := range bytes.Split(text, []byte("\n")) {
		rest, ok := bytes.CutPrefix(line, []byte(key+":"))
		if !ok {
			continue
		}
		f := strings.Fields(string(rest))
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("%s: unexpected %q", key, line)
		}
		return strconv.ParseInt(f[0], 10, 64)
	}
	return 0, fmt.Errorf("no %s line", key)
}

// processMemory reads pid's VmRSS and RssAnon (status) and Pss
// (smaps_rollup).
func processMemory(proc string, pid int) (memory, error) {
	dir := filepath.Join(proc, strconv.Itoa(pid))
	status, err := os.ReadFile(filepath.Join(dir, "status"))
	if err != nil {
		return memory{}, err
	}
	rollup, err := os.ReadFile(filepath.Join(dir, "smaps_rollup"))
	if err != nil {
		return memory{}, err
	}
	m := memory{procs: 1}
	if m.rss, err = kibField(status, "VmRSS"); err != nil {
		return memory{}, fmt.Errorf("pid %d: %w", pid, err)
	}
	if m.anon, err = kibField(status, "RssAnon"); err != nil {
		return memory{}, fmt.Errorf("pid %d: %w", pid, err)
	}
	if m.pss, err = kibField(rollup, "Pss"); err != nil {
		return memory{}, fmt.Errorf("pid %d: %w", pid, err)
	}
	return m, nil
}

// shimsMemory adds up the memory of the shims serving the sockets in dir.
// A shim that exits between its answer and the read is not counted.
func shimsMemory(ctx context.Context, proc, dir string, pidOf shimPIDFunc) (memory, error) {
	pids, err := shimPIDs(ctx, dir, pidOf)
	if err != nil {
		return memory{}, err
	}
	var total memory
	for _, pid := range pids {
		m, err := processMemory(proc, pid)
		if err != nil {
			continue
		}
		total = total.add(m)
	}
	return total, nil
}

// sampleMemory reads the runtime's processes and the shims serving the
// sockets in shimDir.
func sampleMemory(ctx context.Context, pids []int, shimDir string) (memorySample, error) {
	var s memorySample
	for _, pid := range pids {
		m, err := processMemory("/proc", pid)
		if err != nil {
			return s, fmt.Errorf("process %d: %w", pid, err)
		}
		s.each = append(s.each, m)
		s.runtime = s.runtime.add(m)
	}
	var err error
	s.shims, err = shimsMemory(ctx, "/proc", shimDir, shimPID)
	return s, err
}

// memorySettle is how long the phase waits after the last pod started,
// for the runtimes' background work to finish, before it reads memory.
const memorySettle = 5 * time.Second

// memoryPhase reads each runtime's memory idle, then brings it to pods
// running pods with one sleeper container each, reads it again and tears
// the pods down; one runtime after the other, so that each is measured
// beside an idle other. It runs before the list phase, whose 500 containers
// would leave both runtimes' heaps grown.
func (b *bench) memoryPhase(ctx context.Context, rts []*runtimeEndpoint, pids map[string][]int, shimDirs map[string]string, pods int) (results []memoryResult, retErr error) {
	for _, rt := range rts {
		if len(pids[rt.name]) == 0 {
			return nil, fmt.Errorf("no process IDs for %s (--pids)", rt.name)
		}
		if shimDirs[rt.name] == "" {
			return nil, fmt.Errorf("no shim socket directory for %s (--shim-sockets)", rt.name)
		}
	}
	for _, rt := range rts {
		var res memoryResult
		var err error
		if res.idle, err = sampleMemory(ctx, pids[rt.name], shimDirs[rt.name]); err != nil {
			return nil, fmt.Errorf("%s: %w", rt.name, err)
		}
		// The shims counted at N pods must be those pods' alone.
		if n := res.idle.shims.procs; n != 0 {
			return nil, fmt.Errorf("%s: %d shims run before the memory phase starts its pods", rt.name, n)
		}
		start := time.Now()
		f, err := b.startFleet(ctx, rt, pods, 1)
		if err == nil {
			fmt.Printf("berth-bench: %s runs %d pods with %d containers (%.0f s)\n", rt.name, len(f.pods), f.containers(), time.Since(start).Seconds())
			time.Sleep(memorySettle)
			res.pods = len(f.pods)
			// Every pod runs in one shim of its own (a Berth pod's
			// containers, a containerd pod's pause and containers).
			res.loaded, err = sampleMemory(ctx, pids[rt.name], shimDirs[rt.name])
			if err == nil && res.loaded.shims.procs != res.pods {
				err = fmt.Errorf("found %d shims for %d pods", res.loaded.shims.procs, res.pods)
			}
		}
		cctx, cancel := cleanupContext()
		err = errors.Join(err, f.remove(cctx))
		cancel()
		if err != nil {
			return nil, fmt.Errorf("%s: memory at %d pods: %w", rt.name, pods, err)
		}
		results = append(results, res)
	}
	return results, nil
}

func mib(kib int64) string { return fmt.Sprintf("%.1f", float64(kib)/1024) }

// reportMemory prints the memory phase: each runtime's own processes with
// no pods and at N pods, process by process, and the shims (how many, and
// their sum), in MiB of RSS, anonymous RSS and PSS, with the ratios of the
// first runtime's to each other's.
func reportMemory(w io.Writer, rts []*runtimeEndpoint, pids map[string][]int, res []memoryResult, markdown bool) {
	head := []string{"memory (MiB)"}
	for _, rt := range rts {
		head = append(head, rt.name+" RSS", rt.name+" anon", rt.name+" PSS")
	}
	for _, rt := range rts[1:] {
		head = append(head, rts[0].name+" / "+rt.name+" RSS", "anon", "PSS")
	}
	row := func(label string, pick func(memoryResult) memory) []string {
		r := []string{label}
		for _, x := range res {
			m := pick(x)
			r = append(r, mib(m.rss), mib(m.anon), mib(m.pss))
		}
		for _, x := range res[1:] {
			a, o := pick(res[0]), pick(x)
			r = append(r, ratio(float64(a.rss), float64(o.rss)), ratio(float64(a.anon), float64(o.anon)), ratio(float64(a.pss), float64(o.pss)))
		}
		return r
	}
	pods := res[0].pods
	rows := [][]string{
		row("runtime, no pods", func(r memoryResult) memory { return r.idle.runtime }),
		row(fmt.Sprintf("runtime, %d pods", pods), func(r memoryResult) memory { return r.loaded.runtime }),
		row(fmt.Sprintf("shims, %d pods (sum)", pods), func(r memoryResult) memory { return r.loaded.shims }),
		row(fmt.Sprintf("runtime + shims, %d pods", pods), func(r memoryResult) memory { return r.loaded.runtime.add(r.loaded.shims) }),
	}
	table(w, markdown, head, rows)
	fmt.Fprintln(w)
	// Each runtime's processes one by one, at N pods.
	for i, rt := range rts {
		var parts []string
		for j, pid := range pids[rt.name] {
			m := res[i].loaded.each[j]
			parts = append(parts, fmt.Sprintf("%s (pid %d) %s MiB RSS, %s MiB anon, %s MiB PSS", processName(pid), pid, mib(m.rss), mib(m.anon), mib(m.pss)))
		}
		fmt.Fprintf(w, "%s at %d pods: %s; %d shims.\n", rt.name, res[i].pods, strings.Join(parts, "; "), res[i].loaded.shims.procs)
	}
}

// processName is the command name of pid, for the report.
func processName(pid int) string {
	comm, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "comm"))
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(string(comm))
}
