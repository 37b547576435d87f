package main

import (
	"fmt"
	"io"
	"sort"
	"time"
)

// operations in the order a pod's life calls them.
var operations = []string{
	"RunPodSandbox", "CreateContainer", "StartContainer", "StopContainer", "RemoveContainer",
	"StopPodSandbox", "RemovePodSandbox", "PullImage", "RunPodSandbox x4", "RunPodSandbox x16",
}

// percentile returns the p-th percentile (nearest rank) of sorted d.
func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	rank := int(p/100*float64(len(d))+0.5) - 1
	return d[min(max(rank, 0), len(d)-1)]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f", float64(d.Microseconds())/1000) }

func report(w io.Writer, rts []*runtimeEndpoint, markdown bool) {
	head := fmt.Sprintf("%-20s", "operation (ms)")
	for _, rt := range rts {
		head += fmt.Sprintf(" %12s %8s", rt.name+" p50", "p99")
	}
	for _, rt := range rts[1:] {
		head += fmt.Sprintf(" %14s", rts[0].name+"/"+rt.name)
	}
	if markdown {
		fmt.Fprint(w, "| operation | ")
		for _, rt := range rts {
			fmt.Fprintf(w, "%s median (ms) | %s p99 (ms) | ", rt.name, rt.name)
		}
		for _, rt := range rts[1:] {
			fmt.Fprintf(w, "%s / %s | ", rts[0].name, rt.name)
		}
		fmt.Fprintln(w)
		fmt.Fprint(w, "|---|")
		for range rts {
			fmt.Fprint(w, "---|---|")
		}
		for range rts[1:] {
			fmt.Fprint(w, "---|")
		}
		fmt.Fprintln(w)
	} else {
		fmt.Fprintln(w, head)
	}
	for _, op := range operations {
		if len(rts[0].samples[op]) == 0 {
			continue
		}
		medians := make([]time.Duration, len(rts))
		row := fmt.Sprintf("%-20s", op)
		md := "| " + op + " | "
		for i, rt := range rts {
			s := append([]time.Duration(nil), rt.samples[op]...)
			sort.Slice(s, func(a, b int) bool { return s[a] < s[b] })
			medians[i] = percentile(s, 50)
			row += fmt.Sprintf(" %12s %8s", ms(medians[i]), ms(percentile(s, 99)))
			md += fmt.Sprintf("%s | %s | ", ms(medians[i]), ms(percentile(s, 99)))
		}
		for i := 1; i < len(rts); i++ {
			ratio := "n/a"
			if medians[i] > 0 {
				ratio = fmt.Sprintf("%.2f", float64(medians[0])/float64(medians[i]))
			}
			row += fmt.Sprintf(" %14s", ratio)
			md += ratio + " | "
		}
		if markdown {
			fmt.Fprintln(w, md)
		} else {
			fmt.Fprintln(w, row)
		}
	}
	fmt.Fprintf(w, "\n%d samples per operation and runtime; ratio < 1 means %s is faster.\n", len(rts[0].samples["RunPodSandbox"]), rts[0].name)
}
