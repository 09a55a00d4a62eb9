package report

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// The markers around the generated section in docs/benchmarks.md.
const (
	BeginMarker = "<!-- ycsb:begin -->"
	EndMarker   = "<!-- ycsb:end -->"
)

// ErrNoMarkers is returned by Splice when the document lacks the markers.
var ErrNoMarkers = errors.New("report: document has no " + BeginMarker + " … " + EndMarker + " section")

// Splice replaces what lies between the markers in doc with section.
func Splice(doc, section string) (string, error) {
	b := strings.Index(doc, BeginMarker)
	e := strings.Index(doc, EndMarker)
	if b < 0 || e < b {
		return "", ErrNoMarkers
	}
	return doc[:b+len(BeginMarker)] + "\n" + strings.TrimSpace(section) + "\n" + doc[e:], nil
}

// TotalOp is go-ycsb's name for the histogram of every successful database
// operation of a run.
const TotalOp = "TOTAL"

// Markdown renders r as the generated section of docs/benchmarks.md. chart
// is the chart's path relative to the document; empty leaves it out.
func Markdown(r *Results, chart string) string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }

	p("<!-- Written by bench/cmd/dhtbench (make bench); edits between the markers are overwritten. -->\n\n")
	p("### Latest run: %s profile, %s\n\n", r.Profile.Name, r.Started.UTC().Format("2006-01-02"))
	m := r.Machine
	p("**Machine:** %s.", machineLine(m))
	if m.LoadBefore != "" {
		p(" Load average (1, 5, 15 min) %s before the run", m.LoadBefore)
		if m.LoadAfter != "" {
			p(", %s after", m.LoadAfter)
		}
		p(".")
	}
	if r.Revision != "" {
		p(" Servers built from %s.", r.Revision)
	}
	p("\n\n")
	pr := r.Profile
	p("**Parameters, the same for every system:** %d threads; %s records of %d fields × %d B (%s B stored per record); %s operations per workload; %d repetitions, each starting every system afresh, interleaved across systems; medians shown.",
		pr.Threads, thousands(pr.Records), pr.FieldCount, pr.FieldLength, thousands(int64(recordBytes(pr.FieldCount, pr.FieldLength))),
		thousands(pr.Operations), pr.Reps)
	if pr.MaxRunSeconds > 0 {
		p(" A run stops after %s.", time.Duration(pr.MaxRunSeconds*float64(time.Second)))
	}
	if !r.Finished.IsZero() {
		p(" The whole run took %s.", r.Finished.Sub(r.Started).Round(time.Second))
	}
	p("\n\n")
	for _, n := range r.Notes {
		p("- %s\n", n)
	}
	if len(r.Notes) > 0 {
		p("\n")
	}

	p("| system | set-up |\n|---|---|\n")
	for _, s := range r.Systems {
		p("| %s | %s |\n", s.Label, s.Setup)
	}
	p("\n")

	p("#### Throughput\n\nOperations per second, median; ± is half the range over repetitions, relative to the median.\n\n")
	header(&b, "system", r.Workloads, func(w Workload) string { return w.Label })
	for _, s := range r.Systems {
		p("| %s |", s.Label)
		for _, w := range r.Workloads {
			c, ok := r.Cell(s.ID, w.ID)
			if !ok {
				p(" — |")
				continue
			}
			p(" %s |", throughputCell(c))
		}
		p("\n")
	}
	p("\n")

	ratios(&b, r)
	baselines(&b, r)
	latency(&b, r)
	cpu(&b, r)
	memory(&b, r)

	if chart != "" {
		p("![%s](%s)\n", chartAlt(r), chart)
	}
	return b.String()
}

// machineLine is the machine in one line.
func machineLine(m Machine) string {
	parts := []string{fmt.Sprintf("%d CPUs", m.CPUs)}
	if m.CPUModel != "" {
		parts[0] += " (" + m.CPUModel + ")"
	}
	if m.MemBytes > 0 {
		parts = append(parts, fmt.Sprintf("%.0f GiB", float64(m.MemBytes)/(1<<30)))
	}
	platform := m.OS
	if m.Kernel != "" {
		platform += " " + m.Kernel
	}
	parts = append(parts, platform, m.Go)
	if m.Etcd != "" {
		parts = append(parts, "etcd "+m.Etcd)
	}
	return strings.Join(parts, ", ")
}

func header(b *strings.Builder, first string, ws []Workload, label func(Workload) string) {
	fmt.Fprintf(b, "| %s |", first)
	for _, w := range ws {
		fmt.Fprintf(b, " %s |", label(w))
	}
	b.WriteString("\n|---|")
	for range ws {
		b.WriteString("---:|")
	}
	b.WriteString("\n")
}

func throughputCell(c Cell) string {
	s := thousands(int64(math.Round(c.OpsPerSec)))
	if c.Reps > 1 && c.OpsPerSec > 0 {
		s += fmt.Sprintf(" ±%.0f%%", 100*(c.MaxOpsPerSec-c.MinOpsPerSec)/2/c.OpsPerSec)
	}
	if c.TimedOut {
		s += " (cut)"
	}
	return s
}

// ratios renders the throughput of each of our systems over each reference
// and ceiling system, and the servers' CPU time per operation over each
// reference's.
func ratios(b *strings.Builder, r *Results) {
	rows := r.pairs(KindReference, KindCeiling)
	if len(rows) == 0 {
		return
	}
	b.WriteString("#### Ratios\n\nMedian throughput of ours over etcd's (above 1: faster than etcd) and over the harness's ceiling (the share of what the load generator can drive at all).\n\n")
	header(b, "ratio", r.Workloads, func(w Workload) string { return w.Label })
	for _, row := range rows {
		fmt.Fprintf(b, "| %s ÷ %s |", row[0].Label, row[1].Label)
		for _, w := range r.Workloads {
			a, ok1 := r.Cell(row[0].ID, w.ID)
			o, ok2 := r.Cell(row[1].ID, w.ID)
			if !ok1 || !ok2 || o.OpsPerSec == 0 {
				b.WriteString(" — |")
				continue
			}
			fmt.Fprintf(b, " %.2f |", a.OpsPerSec/o.OpsPerSec)
		}
		b.WriteString("\n")
	}
	b.WriteString("\n")

	refs := r.pairs(KindReference)
	if len(refs) == 0 || !cpuRecorded(r) {
		return
	}
	b.WriteString("**Server CPU per operation.** The median CPU time (user and system) that ours spent on an operation, all its server processes together, over etcd's " +
		"(below 1: cheaper than etcd, above: dearer). Unlike throughput, it does not depend on how the load generator shares the cores; " +
		"the microseconds, and the load generator's, are in *CPU per operation* below.\n\n")
	header(b, "server CPU ratio", r.Workloads, func(w Workload) string { return w.Label })
	for _, row := range refs {
		fmt.Fprintf(b, "| %s ÷ %s |", row[0].Label, row[1].Label)
		for _, w := range r.Workloads {
			a, ok1 := r.Cell(row[0].ID, w.ID)
			o, ok2 := r.Cell(row[1].ID, w.ID)
			v, ok := ratio(a.ServerCPUPerOp, o.ServerCPUPerOp)
			if !ok1 || !ok2 || !ok {
				b.WriteString(" — |")
				continue
			}
			fmt.Fprintf(b, " %.2f |", v)
		}
		b.WriteString("\n")
	}
	b.WriteString("\n")
}

// baselines renders, for each system whose baseline also ran, its figures
// over the baseline's: what the one difference between them costs.
func baselines(b *strings.Builder, r *Results) {
	var pairs [][2]System
	for _, s := range r.Systems {
		if base, ok := r.System(s.Baseline); ok && s.Baseline != "" {
			pairs = append(pairs, [2]System{s, base})
		}
	}
	if len(pairs) == 0 {
		return
	}
	b.WriteString("#### Against a baseline\n\nA system that differs from another in one respect, over that other: median throughput (below 1: slower), " +
		"the medians of p50 and p99 of every operation (go-ycsb's TOTAL; above 1: slower), and CPU time per operation of the servers and of the load generator (above 1: more). " +
		"Both ran in the same run, interleaved.\n\n")
	type measure struct {
		label string
		of    func(Cell) float64
	}
	measures := []measure{
		{"throughput", func(c Cell) float64 { return c.OpsPerSec }},
		{"p50, every operation", func(c Cell) float64 { return float64(c.PerOp[TotalOp].P50Us) }},
		{"p99, every operation", func(c Cell) float64 { return float64(c.PerOp[TotalOp].P99Us) }},
		{"server CPU per operation", func(c Cell) float64 { return c.ServerCPUPerOp }},
		{"load generator CPU per operation", func(c Cell) float64 { return c.ClientCPUPerOp }},
	}
	for _, pair := range pairs {
		fmt.Fprintf(b, "**%s ÷ %s**\n\n", pair[0].Label, pair[1].Label)
		header(b, "measure", r.Workloads, func(w Workload) string { return w.Label })
		for _, m := range measures {
			var row strings.Builder
			some := false
			for _, w := range r.Workloads {
				c, ok1 := r.Cell(pair[0].ID, w.ID)
				base, ok2 := r.Cell(pair[1].ID, w.ID)
				if !ok1 || !ok2 || m.of(c) == 0 || m.of(base) == 0 {
					row.WriteString(" — |")
					continue
				}
				some = true
				fmt.Fprintf(&row, " %.2f |", m.of(c)/m.of(base))
			}
			if some {
				fmt.Fprintf(b, "| %s |%s\n", m.label, row.String())
			}
		}
		b.WriteString("\n")
	}
}

// cpu renders the CPU time per operation of each system, where the runs
// recorded it.
func cpu(b *strings.Builder, r *Results) {
	if !cpuRecorded(r) {
		return
	}
	b.WriteString("#### CPU per operation\n\nMicroseconds of CPU time (user and system) per YCSB operation, median over repetitions: " +
		"the system's server processes together / the load generator (the harness process: go-ycsb, the binding, the client). " +
		"Where all of them share the machine's cores, this is what throughput is made of.\n\n")
	header(b, "system", r.Workloads, func(w Workload) string { return w.Label })
	for _, s := range r.Systems {
		fmt.Fprintf(b, "| %s |", s.Label)
		for _, w := range r.Workloads {
			c, ok := r.Cell(s.ID, w.ID)
			if !ok || c.ServerCPUPerOp == 0 {
				b.WriteString(" — |")
				continue
			}
			fmt.Fprintf(b, " %.0f / %.0f |", c.ServerCPUPerOp*1e6, c.ClientCPUPerOp*1e6)
		}
		b.WriteString("\n")
	}
	b.WriteString("\n")
}

// cpuRecorded reports whether any run recorded its servers' CPU time.
func cpuRecorded(r *Results) bool {
	for _, run := range r.Runs {
		if run.ServerCPUSeconds > 0 {
			return true
		}
	}
	return false
}

// latency renders one table per workload: per system, the throughput and
// each operation's p50 / p99 / p99.9.
func latency(b *strings.Builder, r *Results) {
	b.WriteString("#### Latency\n\nMilliseconds, p50 / p99 / p99.9 of each operation, each the median over repetitions. An update of this store is a read and a write with the read's context, unless its set-up above says its updates are blind: then it is one write, as etcd's is.\n\n")
	for _, w := range r.Workloads {
		fmt.Fprintf(b, "**%s**: %s", w.Label, w.Mix)
		if w.Distribution != "" {
			fmt.Fprintf(b, ", %s", w.Distribution)
		}
		b.WriteString("\n\n| system | ops/s |")
		for _, op := range w.Ops {
			fmt.Fprintf(b, " %s |", op)
		}
		b.WriteString(" errors |\n|---|---:|")
		for range w.Ops {
			b.WriteString("---:|")
		}
		b.WriteString("---:|\n")
		var sibs []string
		for _, s := range r.Systems {
			c, ok := r.Cell(s.ID, w.ID)
			if !ok {
				continue
			}
			fmt.Fprintf(b, "| %s | %s |", s.Label, thousands(int64(math.Round(c.OpsPerSec))))
			for _, op := range w.Ops {
				st, ok := c.PerOp[op]
				if !ok {
					b.WriteString(" — |")
					continue
				}
				fmt.Fprintf(b, " %s / %s / %s |", ms(st.P50Us), ms(st.P99Us), ms(st.P999Us))
			}
			fmt.Fprintf(b, " %s |\n", thousands(c.Errors))
			if c.SiblingReads > 0 || c.SiblingWrites > 0 {
				sibs = append(sibs, fmt.Sprintf("%s: %s reads found siblings, %s writes left them", s.Label, thousands(c.SiblingReads), thousands(c.SiblingWrites)))
			}
		}
		if len(sibs) > 0 {
			fmt.Fprintf(b, "\nSiblings, summed over repetitions: %s.\n", strings.Join(sibs, "; "))
		}
		b.WriteString("\n")
	}
}

func memory(b *strings.Builder, r *Results) {
	type row struct {
		label string
		nodes []string
		peaks []RSS
	}
	var rows []row
	for _, s := range r.Systems {
		if nodes, peaks := r.PeakRSSParts(s.ID); len(nodes) > 0 {
			rows = append(rows, row{s.Label, nodes, peaks})
		}
	}
	if len(rows) == 0 {
		return
	}
	b.WriteString("#### Memory\n\nPeak resident set (RSS) of each server process while it served workload A, median over repetitions. " +
		"*Anonymous* is the process's own memory (heap, stacks); *file-backed* is pages of memory-mapped files " +
		"(badger maps its tables and logs), page cache that the kernel reclaims under memory pressure. Each column is its own peak.\n\n" +
		"| system | process | peak RSS | anonymous | file-backed |\n|---|---|---:|---:|---:|\n")
	for _, rw := range rows {
		for i, n := range rw.nodes {
			p := rw.peaks[i]
			fmt.Fprintf(b, "| %s | %s | %s | %s | %s |\n", rw.label, n, mib(p.PeakBytes), optMiB(p.PeakAnonBytes), optMiB(p.PeakFileBytes))
		}
	}
	b.WriteString("\n")
}

// optMiB is mib, or a dash for a part results from before it was recorded
// do not have.
func optMiB(n int64) string {
	if n == 0 {
		return "—"
	}
	return mib(n)
}

// recordBytes is the size of an encoded record of n fields named field0…
// of length l each.
func recordBytes(n, l int) int {
	size := uvarintLen(uint64(n))
	for i := range n {
		name := len("field" + strconv.Itoa(i))
		size += uvarintLen(uint64(name)) + name + uvarintLen(uint64(l)) + l
	}
	return size
}

func uvarintLen(x uint64) int {
	n := 1
	for x >= 0x80 {
		x >>= 7
		n++
	}
	return n
}

// ms formats microseconds as milliseconds with three significant digits
// (at least one decimal below 100 ms).
func ms(us int64) string {
	v := float64(us) / 1000
	switch {
	case v < 10:
		return strconv.FormatFloat(v, 'f', 2, 64)
	case v < 100:
		return strconv.FormatFloat(v, 'f', 1, 64)
	default:
		return thousands(int64(math.Round(v)))
	}
}

func mib(b int64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }

// thousands formats n with commas between groups of three digits.
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	var out []byte
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	if neg {
		return "-" + string(out)
	}
	return string(out)
}
