package ring

import (
	"flag"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// Shared helpers of the claim and state tests.

var updateFlag = flag.Bool("ring.update", false, "rewrite testdata/claim.golden")

// joins returns the history of s members node-00, node-01, … joining one
// after another, zones assigned round-robin from zones (none when 0).
func joins(s, zones int) []Event {
	h := make([]Event, 0, s)
	for i := range s {
		h = append(h, Event{Kind: Join, Member: member(i, zones), Version: uint64(i + 1)})
	}
	return h
}

func member(i, zones int) Member {
	m := Member{ID: fmt.Sprintf("node-%02d", i)}
	if zones > 0 {
		m.Zone = fmt.Sprintf("zone-%d", i%zones)
	}
	return m
}

// zonedJoins returns a history joining members named after their zones, in
// the order spec gives: "aabc" joins a1, a2, b1, c1.
func zonedJoins(spec string) []Event {
	seen := map[rune]int{}
	var h []Event
	for i, z := range spec {
		seen[z]++
		h = append(h, Event{Kind: Join, Member: Member{ID: fmt.Sprintf("%c%d", z, seen[z]), Zone: string(z)}, Version: uint64(i + 1)})
	}
	return h
}

// checkTable returns the invariants tab breaks (none: nil): a row per
// partition, min(N, members) replicas each, all owners, on distinct nodes,
// and in distinct zones when the owners span at least N zones.
func checkTable(tab Table) []string {
	var bad []string
	zoneOf := map[string]string{}
	zones := map[string]bool{}
	for i, m := range tab.Members {
		if i > 0 && tab.Members[i-1].ID >= m.ID {
			bad = append(bad, fmt.Sprintf("members not sorted by id: %v", tab.Members))
		}
		zoneOf[m.ID] = m.Zone
		zones[m.Zone] = true
	}
	if len(tab.Replicas) != tab.Partitions {
		return append(bad, fmt.Sprintf("%d rows for %d partitions", len(tab.Replicas), tab.Partitions))
	}
	want := min(tab.N, len(tab.Members))
	diverse := len(zones) >= tab.N
	for p, ids := range tab.Replicas {
		if len(ids) != want {
			bad = append(bad, fmt.Sprintf("partition %d has %d replicas, want %d: %v", p, len(ids), want, ids))
		}
		for i, id := range ids {
			zone, owner := zoneOf[id]
			switch {
			case !owner:
				bad = append(bad, fmt.Sprintf("partition %d lists %q, not an owner: %v", p, id, ids))
			case slices.Contains(ids[:i], id):
				bad = append(bad, fmt.Sprintf("partition %d lists %q twice: %v", p, id, ids))
			case diverse && slices.ContainsFunc(ids[:i], func(other string) bool { return zoneOf[other] == zone }):
				bad = append(bad, fmt.Sprintf("partition %d has two replicas in zone %q although the owners span %d zones: %v", p, zone, len(zones), ids))
			}
		}
		if len(bad) > 10 {
			return append(bad, "…")
		}
	}
	return bad
}

func requireTable(t *testing.T, tab Table) {
	t.Helper()
	if bad := checkTable(tab); bad != nil {
		t.Fatalf("table breaks its invariants:\n%s", strings.Join(bad, "\n"))
	}
}

// fairShares is the reference for the fair share of each owner, computed
// the simple way: water-filling in floating point, one replica at a time
// from a zone cap of q when the owners span at least n zones.
func fairShares(tab Table) map[string]float64 {
	size := map[string]int{}
	for _, m := range tab.Members {
		size[m.Zone]++
	}
	s, total := len(tab.Members), float64(tab.N*tab.Partitions)
	out := map[string]float64{}
	if s <= tab.N {
		for _, m := range tab.Members {
			out[m.ID] = float64(tab.Partitions)
		}
		return out
	}
	capped := map[string]bool{}
	if len(size) >= tab.N {
		for changed := true; changed; {
			changed = false
			rest, members := total, 0
			for z, k := range size {
				if capped[z] {
					rest -= float64(tab.Partitions)
				} else {
					members += k
				}
			}
			for z, k := range size {
				if !capped[z] && float64(k)*rest/float64(members) > float64(tab.Partitions) {
					capped[z], changed = true, true
				}
			}
		}
	}
	rest, members := total, 0
	for z, k := range size {
		if capped[z] {
			rest -= float64(tab.Partitions)
		} else {
			members += k
		}
	}
	for _, m := range tab.Members {
		if capped[m.Zone] {
			out[m.ID] = float64(tab.Partitions) / float64(size[m.Zone])
		} else {
			out[m.ID] = rest / float64(members)
		}
	}
	return out
}

// movedTo returns, per member, the replicas placed in b that a did not have
// there: the reference for Moved, and who received them.
func movedTo(a, b Table) map[string]int {
	out := map[string]int{}
	for p := range b.Replicas {
		for _, id := range b.Replicas[p] {
			if p >= len(a.Replicas) || !slices.Contains(a.Replicas[p], id) {
				out[id]++
			}
		}
	}
	return out
}

func sum(m map[string]int) int {
	total := 0
	for _, v := range m {
		total += v
	}
	return total
}
