package checker

import (
	"maps"

	"github.com/dhtkv/dht/test/chaos/history"
)

// lwwFinal returns final with every read reduced to its Latest sibling: a
// last-write-wins resolver applied to the final state, which silently drops
// concurrent writes. The harness never does this (its final reads keep
// every sibling, so that a loss is the clients'); the checker's tests use
// it to show that such a reduction is caught.
func lwwFinal(final history.Final) history.Final {
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
