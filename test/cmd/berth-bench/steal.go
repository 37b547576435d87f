package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// cpuTicks are the steal and total ticks of the "cpu" line of /proc/stat:
// the CPU time the hypervisor gave other guests, of all time passed. On a
// virtual machine it comes and goes over tens of seconds, and slows
// whatever runs then.
type cpuTicks struct{ steal, total uint64 }

// parseCPUTicks reads the aggregate "cpu" line of /proc/stat (user nice
// system idle iowait irq softirq steal ...; guest time is already in user).
func parseCPUTicks(stat string) (cpuTicks, error) {
	for _, line := range strings.Split(stat, "\n") {
		fields := strings.Fields(line)
		if len(fields) < 9 || fields[0] != "cpu" {
			continue
		}
		var t cpuTicks
		for i, f := range fields[1:9] {
			n, err := strconv.ParseUint(f, 10, 64)
			if err != nil {
				return cpuTicks{}, fmt.Errorf("/proc/stat cpu field %d: %w", i+1, err)
			}
			t.total += n
			if i == 7 {
				t.steal = n
			}
		}
		return t, nil
	}
	return cpuTicks{}, fmt.Errorf("/proc/stat has no cpu line")
}

func readCPUTicks() (cpuTicks, error) {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return cpuTicks{}, err
	}
	return parseCPUTicks(string(data))
}

// stealPercent is the share of the time between from and to that was
// stolen.
func stealPercent(from, to cpuTicks) float64 {
	if to.total <= from.total {
		return 0
	}
	return 100 * float64(to.steal-from.steal) / float64(to.total-from.total)
}

// reportSteal prints the steal of each critest run, as bench.sh recorded
// it, per runtime; nothing when no run has it.
func reportSteal(w io.Writer, rts []*runtimeEndpoint) {
	recorded := false
	for _, rt := range rts {
		recorded = recorded || len(rt.steal) > 0
	}
	if !recorded {
		return
	}
	fmt.Fprintln(w, "CPU time stolen by the hypervisor in each run, %:")
	for _, rt := range rts {
		fmt.Fprintf(w, "  %s: %s\n", rt.name, strings.Join(rt.steal, ", "))
	}
}

// runSteal is the CPU steal, in percent as bench.sh wrote it, of the
// critest run whose results are in dir; ok is false when none was recorded.
func runSteal(dir string) (steal string, ok bool) {
	data, err := os.ReadFile(filepath.Join(dir, "cpu-steal"))
	if err != nil {
		return "", false
	}
	return strings.TrimSpace(string(data)), true
}

// quietSteal is the most CPU steal, in percent, a critest run may have had
// to count among the quiet ones.
const quietSteal = 2.0

// quietRuns keeps, of each runtime's runs in spec ("name=dir+dir,..."),
// those whose recorded CPU steal is at most maxSteal percent. ok is false when
// it would leave a runtime fewer than two runs, or keep every run.
func quietRuns(spec string, maxSteal float64) (quiet string, ok bool) {
	var parts []string
	dropped := false
	for _, part := range strings.Split(spec, ",") {
		name, list, _ := strings.Cut(part, "=")
		var kept []string
		for _, dir := range strings.Split(list, "+") {
			text, ok := runSteal(dir)
			if !ok {
				dropped = true
				continue
			}
			steal, err := strconv.ParseFloat(text, 64)
			if err != nil || steal > maxSteal {
				dropped = true
				continue
			}
			kept = append(kept, dir)
		}
		if len(kept) < 2 {
			return "", false
		}
		parts = append(parts, name+"="+strings.Join(kept, "+"))
	}
	return strings.Join(parts, ","), dropped
}
