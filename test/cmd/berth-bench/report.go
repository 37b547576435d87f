package main

import (
	"fmt"
	"io"
	"math/rand/v2"
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
// each other's. With paired, the runtimes' samples of an operation were
// taken in turns (the k-th of each side by side in time), and each ratio
// is followed by the median of the k-th samples' ratios with its 95%
// bootstrap interval: a spell of load falls on both sides of a pair, so
// that ratio moves less with the machine than the ratio of medians.
func report(w io.Writer, rts []*runtimeEndpoint, markdown, paired bool) {
	head := []string{"operation", "n"}
	for _, rt := range rts {
		head = append(head, rt.name+" median (ms)", rt.name+" p99 (ms)")
	}
	for _, rt := range rts[1:] {
		head = append(head, rts[0].name+" / "+rt.name)
		if paired {
			head = append(head, "paired [95% CI]")
		}
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
			if paired {
				row = append(row, pairedCell(rts[0].samples[op], rts[i].samples[op]))
			}
		}
		rows = append(rows, row)
	}
	table(w, markdown, head, rows)
	fmt.Fprintf(w, "\nn: samples per runtime; a ratio below 1 means %s is faster.\n", rts[0].name)
}

// minPairs is the fewest pairs a paired ratio is given for.
const minPairs = 5

// pairedCell formats pairedRatio, or "n/a".
func pairedCell(a, b []time.Duration) string {
	med, lo, hi, ok := pairedRatio(a, b)
	if !ok {
		return "n/a"
	}
	return fmt.Sprintf("%.2f [%.2f–%.2f]", med, lo, hi)
}

// pairedRatio is the median of a[k]/b[k] and its 95% percentile bootstrap
// interval (2000 resamples, a fixed seed: the same samples print the same
// interval). ok is false without minPairs pairs of equal counts.
func pairedRatio(a, b []time.Duration) (med, lo, hi float64, ok bool) {
	if len(a) != len(b) || len(a) < minPairs {
		return 0, 0, 0, false
	}
	ratios := make([]float64, 0, len(a))
	for k := range a {
		if b[k] <= 0 {
			return 0, 0, 0, false
		}
		ratios = append(ratios, float64(a[k])/float64(b[k]))
	}
	median := func(v []float64) float64 {
		s := append([]float64(nil), v...)
		sort.Float64s(s)
		if len(s)%2 == 1 {
			return s[len(s)/2]
		}
		return (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	const resamples = 2000
	rng := rand.New(rand.NewPCG(1, 2))
	meds := make([]float64, resamples)
	pick := make([]float64, len(ratios))
	for r := range meds {
		for k := range pick {
			pick[k] = ratios[rng.IntN(len(ratios))]
		}
		meds[r] = median(pick)
	}
	sort.Float64s(meds)
	return median(ratios), meds[resamples*25/1000], meds[resamples*975/1000-1], true
}
