package scenario

import (
	"strings"
	"testing"

	"github.com/dhtkv/dht/test/chaos/checker"
)

// TestVerdict_FoundNothingFailsOnlyWhereTheScenarioAllowsNone: a read that
// found nothing for an acknowledged key is counted in every row, and fails
// only a scenario that requires none.
func TestVerdict_FoundNothingFailsOnlyWhereTheScenarioAllowsNone(t *testing.T) {
	clean := checker.Report{Converged: true}
	found := clean
	found.FoundNothing = []checker.Finding{{Key: "reg/0/0", Item: "c0-r0-1", Op: 9, Reason: "found nothing"}}
	for _, tc := range []struct {
		name    string
		res     Result
		verdict string
		column  string
	}{
		{"none, allowed", Result{Name: "kill", Report: clean}, "ok", "| 0 |"},
		{"none, required", Result{Name: "wipe-rebuild", Report: clean, NoFalseNotFound: true}, "ok", "| 0 (must be 0) |"},
		{"one, allowed", Result{Name: "kill", Report: found}, "ok", "| 1 |"},
		{"one, required", Result{Name: "wipe-rebuild", Report: found, NoFalseNotFound: true}, "FAIL", "| 1 (must be 0) |"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Verdict(tc.res); got != tc.verdict {
				t.Errorf("Verdict = %q, want %q", got, tc.verdict)
			}
			row := Row(tc.res)
			if !strings.Contains(row, tc.column+" "+tc.verdict+" |") {
				t.Errorf("row %q lacks the found-nothing column %q before the verdict", row, tc.column)
			}
			// One cell per column of the header.
			header := strings.SplitN(TableHeader, "\n", 2)[0]
			if got, want := strings.Count(row, "|"), strings.Count(header, "|"); got != want {
				t.Errorf("row has %d separators, header %d", got, want)
			}
		})
	}
}

// TestAll_WipeRebuildReadsAtR1InBothSuites: the wipe-rebuild scenario is in
// the short suite as well as the full one, reads at R=1 and requires no
// false not-found.
func TestAll_WipeRebuildReadsAtR1InBothSuites(t *testing.T) {
	sc, ok := ByName("wipe-rebuild")
	if !ok {
		t.Fatal("no wipe-rebuild scenario")
	}
	if sc.LongOnly || sc.ReadR != 1 || !sc.NoFalseNotFound || sc.Faults == nil {
		t.Fatalf("wipe-rebuild: long only %v, read R %d, no false not-found %v", sc.LongOnly, sc.ReadR, sc.NoFalseNotFound)
	}
}
