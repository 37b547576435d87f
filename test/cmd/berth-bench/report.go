package main

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
)

// percentile returns the p-th percentile (nearest rank) of sorted d.
func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	rank := int(p/100*float64(len(d))+0.5) - 1
	return d[min(max(rank, 0), len(d)-1)]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f", float64(d.Microseconds())/1000) }

// ratio formats a/b, or n/a when b is zero.
func ratio(a, b float64) string {
	if b == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.2f", a/b)
}

// table prints rows as aligned text or as a markdown table.
func table(w io.Writer, markdown bool, head []string, rows [][]string) {
	if markdown {
		fmt.Fprintf(w, "| %s |\n|%s\n", strings.Join(head, " | "), strings.Repeat("---|", len(head)))
		for _, r := range rows {
			fmt.Fprintf(w, "| %s |\n", strings.Join(r, " | "))
		}
		return
	}
	widths := make([]int, len(head))
	for _, r := range append([][]string{head}, rows...) {
		for i, c := range r {
			widths[i] = max(widths[i], len(c))
		}
	}
	for _, r := range append([][]string{head}, rows...) {
		line := fmt.Sprintf("%-*s", widths[0], r[0])
		for i, c := range r[1:] {
			line += fmt.Sprintf("  %*s", widths[i+1], c)
		}
		fmt.Fprintln(w, line)
	}
}

// report prints, for every operation the first runtime recorded, each
// runtime's median and p99 and the ratio of the first runtime's median to
// each other's.
func report(w io.Writer, rts []*runtimeEndpoint, markdown bool) {
	head := []string{"operation", "n"}
	for _, rt := range rts {
		head = append(head, rt.name+" median (ms)", rt.name+" p99 (ms)")
	}
	for _, rt := range rts[1:] {
		head = append(head, rts[0].name+" / "+rt.name)
	}
	var rows [][]string
	for _, op := range rts[0].order {
		row := []string{op, fmt.Sprint(len(rts[0].samples[op]))}
		medians := make([]time.Duration, len(rts))
		for i, rt := range rts {
			s := append([]time.Duration(nil), rt.samples[op]...)
			sort.Slice(s, func(a, b int) bool { return s[a] < s[b] })
			medians[i] = percentile(s, 50)
			row = append(row, ms(medians[i]), ms(percentile(s, 99)))
		}
		for i := 1; i < len(rts); i++ {
			row = append(row, ratio(float64(medians[0]), float64(medians[i])))
		}
		rows = append(rows, row)
	}
	table(w, markdown, head, rows)
	fmt.Fprintf(w, "\nn: samples per runtime; a ratio below 1 means %s is faster.\n", rts[0].name)
}
