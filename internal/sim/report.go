package sim

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Summary condenses one run of Standard into the figures of the scale
// table: the worst of each measure over the steps it applies to.
type Summary struct {
	Nodes, Partitions, Zones int
	// Claim is the median wall time of ring.Claim over the run's ring
	// changes (0 without Config.Now): the median, because one timing on a
	// busy machine can be several times the others.
	Claim time.Duration
	// JoinMoved is the largest moved/ideal over the joins; RemoveMoved the
	// largest over decommissions and force-removals.
	JoinMoved, RemoveMoved float64
	// JoinElsewhere sums the replicas joins moved to others than the
	// newcomer.
	JoinElsewhere int
	// MaxLoad and MinLoad are the extreme loads over the mean, over every
	// step.
	MaxLoad, MinLoad float64
	// MaxShare and MinShare are the extreme loads over the owner's fair
	// share, over every step (see LoadStats).
	MaxShare, MinShare float64
	// ZoneRepeats sums the partitions repeating a zone, over the steps with
	// at least N zones.
	ZoneRepeats int
	// Crash, ZoneLoss and ZoneLoss2 are the worst availability with one
	// node down, one zone down and two zones down.
	Crash, ZoneLoss, ZoneLoss2 Availability
	// Changes is the worst availability during ring changes (joins and
	// removals, right after the change and once settled).
	Changes Availability
	// JoinSettle and RemoveSettle are the longest settle times.
	JoinSettle, RemoveSettle time.Duration
	// Repair sums the recoveries' anti-entropy.
	Repair Repair
	// Stalled is the most transfers left unable to run after a step.
	Stalled int
}

// Summarize condenses a run's results.
func Summarize(cfg Config, results []Result) Summary {
	s := Summary{Nodes: cfg.Nodes, Partitions: cfg.Partitions, Zones: cfg.Zones, MinLoad: -1, MinShare: -1}
	full := func(a *Availability, b Availability) {
		if a.Partitions == 0 {
			*a = b
		} else {
			*a = a.worst(b)
		}
	}
	var claims []time.Duration
	for _, r := range results {
		if r.Skipped {
			continue
		}
		if r.Claim > 0 {
			claims = append(claims, r.Claim)
		}
		s.MaxLoad = max(s.MaxLoad, r.Loads.MaxRatio())
		if s.MinLoad < 0 || r.Loads.MinRatio() < s.MinLoad {
			s.MinLoad = r.Loads.MinRatio()
		}
		s.MaxShare = max(s.MaxShare, r.Loads.MaxShare)
		if s.MinShare < 0 || r.Loads.MinShare < s.MinShare {
			s.MinShare = r.Loads.MinShare
		}
		s.ZoneRepeats += r.ZoneRepeats
		s.Stalled = max(s.Stalled, r.Stalled)
		switch r.Step.Kind {
		case Join:
			s.JoinMoved = max(s.JoinMoved, r.MovedRatio())
			s.JoinElsewhere += r.MovedElsewhere
			s.JoinSettle = max(s.JoinSettle, r.Settle)
			full(&s.Changes, r.Avail)
		case Resize, Halve:
			full(&s.Changes, r.Avail)
		case Decommission, ForceRemove:
			s.RemoveMoved = max(s.RemoveMoved, r.MovedRatio())
			s.RemoveSettle = max(s.RemoveSettle, r.Settle)
			full(&s.Changes, r.Avail)
		case Crash:
			if len(r.Nodes) == 1 {
				full(&s.Crash, r.Avail)
			}
		case ZoneLoss:
			switch len(r.Zones) {
			case 1:
				full(&s.ZoneLoss, r.Avail)
			case 2:
				full(&s.ZoneLoss2, r.Avail)
			}
		case Recover:
			s.Repair.Exchanges += r.Repair.Exchanges
			s.Repair.Missed += r.Repair.Missed
			s.Repair.Found += r.Repair.Found
			s.Repair.DescentBytes += r.Repair.DescentBytes
			s.Repair.ListingBytes += r.Repair.ListingBytes
			s.Repair.DataBytes += r.Repair.DataBytes
		}
	}
	if len(claims) > 0 {
		slices.Sort(claims)
		s.Claim = claims[len(claims)/2]
	}
	return s
}

// SummaryTable renders summaries as a markdown table, one row each.
func SummaryTable(sums []Summary) string {
	var b strings.Builder
	b.WriteString("| nodes | Q | zones | claim | join moved/ideal | removal moved/ideal | load max/mean, min/mean | load over fair share | zone repeats | during changes r/w | 1 node down r/w/sloppy w | 1 zone down r/w/sloppy w | 2 zones down r/w/sloppy w | join settles in | removal settles in | repair found/missed |\n")
	b.WriteString("|---:|---:|---:|---:|---:|---:|---|---|---:|---|---|---|---|---:|---:|---:|\n")
	for _, s := range sums {
		fmt.Fprintf(&b, "| %d | %d | %d | %s | %.3f | %.3f | %.3f, %.3f | %.3f, %.3f | %d | %s | %s | %s | %s | %s | %s | %d/%d |\n",
			s.Nodes, s.Partitions, s.Zones, ms(s.Claim), s.JoinMoved, s.RemoveMoved, s.MaxLoad, s.MinLoad, s.MaxShare, s.MinShare, s.ZoneRepeats,
			pct2(s.Changes), pct3(s.Crash), pct3(s.ZoneLoss), pct3(s.ZoneLoss2),
			secs(s.JoinSettle), secs(s.RemoveSettle), s.Repair.Found, s.Repair.Missed)
	}
	return b.String()
}

// StepTable renders one run's results as a markdown table, one row a step.
func StepTable(results []Result) string {
	var b strings.Builder
	b.WriteString("| step | what | owners | moved | ideal | claim | transfers | settles in | max/min load | zone repeats | read | write | sloppy write | repaired |\n")
	b.WriteString("|---|---|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|\n")
	for _, r := range results {
		what := strings.Join(r.Nodes, " ")
		if len(r.Zones) > 0 {
			what = "zones " + strings.Join(r.Zones, " ") + fmt.Sprintf(" (%d nodes)", len(r.Nodes))
		} else if len(r.Nodes) > 4 {
			what = fmt.Sprintf("%d nodes", len(r.Nodes))
		}
		if r.Step.Kind == Resize || r.Step.Kind == Halve {
			what = fmt.Sprintf("to Q=%d: %.1f GB moved, a new ring moves %.1f GB", r.Partitions, float64(r.BytesMoved)/1e9, float64(r.NaiveBytes)/1e9)
		}
		if r.Skipped {
			what = "nothing to do"
		}
		repaired := ""
		if r.Step.Kind == Recover && !r.Skipped {
			repaired = fmt.Sprintf("%d/%d", r.Repair.Found, r.Repair.Missed)
		}
		fmt.Fprintf(&b, "| %s | %s | %d | %d | %.1f | %s | %d | %s | %d/%d | %d | %s | %s | %s | %s |\n",
			r.Step, what, r.Owners, r.Moved, r.Ideal, ms(r.Claim), r.Transfers, secs(r.Settle),
			r.Loads.Max, r.Loads.Min, r.ZoneRepeats,
			pct(r.Avail.ReadShare()), pct(r.Avail.WriteShare()), pct(r.Avail.SloppyWriteShare()), repaired)
	}
	return b.String()
}

func pct(f float64) string { return fmt.Sprintf("%.1f%%", 100*f) }

func pct2(a Availability) string {
	if a.Partitions == 0 {
		return "–"
	}
	return pct(a.ReadShare()) + " / " + pct(a.WriteShare())
}

func pct3(a Availability) string {
	if a.Partitions == 0 {
		return "–"
	}
	return pct(a.ReadShare()) + " / " + pct(a.WriteShare()) + " / " + pct(a.SloppyWriteShare())
}

func ms(d time.Duration) string {
	if d == 0 {
		return "–"
	}
	return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
}

func secs(d time.Duration) string { return fmt.Sprintf("%.0f s", d.Seconds()) }
