package scenario

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/dhtkv/dht/test/chaos/checker"
	"github.com/dhtkv/dht/test/chaos/history"
)

// TableHeader and Row format results as a Markdown table, readable in a
// terminal and pasted as is into the README.
const TableHeader = "| scenario | attempted | acknowledged | lost | unexpected | indeterminate | availability | converged in | max siblings (concurrency) | stale | divergent | found nothing | verdict |\n" +
	"|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"

// Row is one result's line of the table.
func Row(r Result) string {
	rep := r.Report
	conv := rep.ConvergeTime.Round(100 * time.Millisecond).String()
	if !rep.Converged {
		conv = "no (" + conv + ")"
	}
	approx := ""
	if rep.Approximate {
		approx = "≤"
	}
	// The found-nothing count is marked where it decides the verdict.
	found := fmt.Sprint(len(rep.FoundNothing))
	if r.NoFalseNotFound {
		found += " (must be 0)"
	}
	return fmt.Sprintf("| %s | %d | %d | %d | %d | %d | %.1f%% | %s | %d (%s%d) | %d | %d | %s | %s |",
		r.Name, rep.Attempted, rep.Acknowledged, len(rep.Lost), len(rep.Unexpected), rep.Indeterminate,
		rep.Availability(), conv, rep.MaxSiblings, approx, rep.KeyConcurrency, len(rep.Stale), len(rep.Divergent), found, Verdict(r))
}

// Verdict is "ok", "FAIL" (the checker found something, or a read found
// nothing where the scenario allows none), "CRASH" (a node's log shows a
// panic or a race) or "ERROR" (the harness failed).
func Verdict(r Result) string {
	switch {
	case r.Err != nil:
		return "ERROR"
	case len(r.Crashes) > 0:
		return "CRASH"
	case !r.Report.OK(), r.NoFalseNotFound && len(r.Report.FoundNothing) > 0:
		return "FAIL"
	}
	return "ok"
}

// maxShown bounds the findings printed per category.
const maxShown = 10

// Explain writes what a failed or erroneous result found: the findings,
// history excerpts around the first ones, and where the files are.
func Explain(w io.Writer, r Result, ops []history.Op) {
	rep := r.Report
	fmt.Fprintf(w, "\n== %s (seed %d): %s\n", r.Name, r.Seed, Verdict(r))
	if r.Err != nil {
		fmt.Fprintf(w, "harness error: %v\n", r.Err)
	}
	for _, c := range r.Crashes {
		fmt.Fprintf(w, "crash in a node's log: %s\n", c)
	}
	if !rep.Converged {
		fmt.Fprintf(w, "did not converge: %s\n", rep.ConvergeErr)
	}
	if rep.Malformed > 0 {
		fmt.Fprintf(w, "malformed history lines: %d\n", rep.Malformed)
	}
	for _, cat := range []struct {
		name string
		fs   []checker.Finding
	}{{"lost", rep.Lost}, {"unexpected", rep.Unexpected}, {"stale", rep.Stale}, {"divergent", rep.Divergent}, {"sibling excess", rep.SiblingExcess},
		{"found nothing (reads of a key acknowledged before they began)", rep.FoundNothing}} {
		if len(cat.fs) == 0 {
			continue
		}
		fmt.Fprintf(w, "%s: %d\n", cat.name, len(cat.fs))
		for i, f := range cat.fs {
			if i == maxShown {
				fmt.Fprintf(w, "  … %d more\n", len(cat.fs)-maxShown)
				break
			}
			fmt.Fprintf(w, "  %s\n", f)
		}
	}
	shown := map[string]bool{}
	for _, fs := range [][]checker.Finding{rep.Lost, rep.Unexpected, rep.Stale} {
		for _, f := range fs {
			if len(shown) == 3 || shown[f.Key] {
				continue
			}
			shown[f.Key] = true
			fmt.Fprintf(w, "history of %s around %s:\n", f.Key, f.Item)
			for _, line := range Excerpt(ops, f.Key, f.Item, 40) {
				fmt.Fprintf(w, "  %s\n", line)
			}
		}
	}
	if r.NoFalseNotFound && len(rep.FoundNothing) > 0 {
		// The read itself wrote or saw nothing, so Excerpt, which follows
		// an item, would miss it: show what led up to it instead.
		f := rep.FoundNothing[0]
		fmt.Fprintf(w, "history of %s up to the first read that found nothing (op %d):\n", f.Key, f.Op)
		for _, line := range ExcerptBefore(ops, f.Key, f.Op, 40) {
			fmt.Fprintf(w, "  %s\n", line)
		}
	}
	fmt.Fprintf(w, "files: %s (history.jsonl, final.json, node logs)\n", r.Dir)
}

// ExcerptBefore returns the last n history lines about key, or faults, up
// to and including the op with index last.
func ExcerptBefore(ops []history.Op, key string, last int64, n int) []string {
	var out []string
	for _, op := range ops {
		if op.Index > last {
			break
		}
		if op.Key == key || op.Type == history.Nemesis {
			out = append(out, Format(op))
		}
	}
	return out[max(0, len(out)-n):]
}

// Excerpt returns up to n history lines about key: the ops that wrote or
// saw item, and the ops and faults just before the first of them.
func Excerpt(ops []history.Op, key, item string, n int) []string {
	first := -1
	for i, op := range ops {
		if op.Key == key && (op.Value == item || contains(op.Read, item)) {
			first = i
			break
		}
	}
	var out []string
	for i, op := range ops {
		if len(out) == n {
			break
		}
		relevant := op.Key == key && (op.Value == item || contains(op.Read, item))
		before := first >= 0 && i < first && i >= first-400 && (op.Key == key || op.Type == history.Nemesis)
		after := first >= 0 && i > first && op.Type == history.Nemesis && i < first+400
		if relevant || before || after {
			out = append(out, Format(op))
		}
	}
	return out
}

func contains(s []string, x string) bool {
	for _, v := range s {
		if v == x {
			return true
		}
	}
	return false
}

// Format renders one op on one line.
func Format(op history.Op) string {
	var b strings.Builder
	fmt.Fprintf(&b, "#%d %8.3fs ", op.Index, op.Time.Seconds())
	if op.Type == history.Nemesis {
		fmt.Fprintf(&b, "nemesis %s", op.Detail)
		return b.String()
	}
	fmt.Fprintf(&b, "c%d %s %-6s %s %s %s", op.Client, op.Node, op.Type, op.F, op.Key, op.Value)
	if op.CtxIn != "" {
		fmt.Fprintf(&b, " ctx_in=%s", short(op.CtxIn))
	}
	if op.Read != nil {
		fmt.Fprintf(&b, " read=%v", op.Read)
	}
	if op.Ctx != "" {
		fmt.Fprintf(&b, " ctx=%s", short(op.Ctx))
	}
	if op.Siblings > 0 {
		fmt.Fprintf(&b, " siblings=%d", op.Siblings)
	}
	if op.Error != "" {
		fmt.Fprintf(&b, " error=%q", op.Error)
	}
	return b.String()
}

func short(ctx string) string {
	if len(ctx) <= 16 {
		return ctx
	}
	return ctx[:6] + "…" + ctx[len(ctx)-8:]
}
