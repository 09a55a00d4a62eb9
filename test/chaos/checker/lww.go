package checker

import (
	"maps"

	"github.com/dhtkv/dht/test/chaos/history"
)

// LWW returns final with every read reduced to one sibling, the one with
// the latest timestamp (the greater ID on a tie): the last-write-wins
// resolver, which silently drops concurrent writes. The checker must report
// what it loses; nothing else about final changes.
func LWW(final history.Final) history.Final {
	out := final
	out.Reads = make(map[string]map[string]history.FinalRead, len(final.Reads))
	for key, byNode := range final.Reads {
		m := make(map[string]history.FinalRead, len(byNode))
		for node, r := range byNode {
			if len(r.Siblings) > 1 {
				r.Siblings = []history.FinalSibling{Latest(r.Siblings)}
			}
			m[node] = r
		}
		out.Reads[key] = m
	}
	out.Roots = maps.Clone(final.Roots)
	return out
}

// Latest returns the sibling with the latest timestamp, the greater ID on a
// tie. sibs must not be empty.
func Latest(sibs []history.FinalSibling) history.FinalSibling {
	best := sibs[0]
	for _, s := range sibs[1:] {
		if s.Timestamp.After(best.Timestamp) || (s.Timestamp.Equal(best.Timestamp) && s.ID > best.ID) {
			best = s
		}
	}
	return best
}
