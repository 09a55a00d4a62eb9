package checker

import "github.com/dhtkv/dht/test/chaos/history"

// Latest returns the sibling with the latest timestamp, the greater ID on a
// tie: the one a last-write-wins resolver keeps. The workload's lossy
// clients use it; the checker never applies it to a final state, which
// keeps every sibling. sibs must not be empty.
func Latest(sibs []history.FinalSibling) history.FinalSibling {
	best := sibs[0]
	for _, s := range sibs[1:] {
		if s.Timestamp.After(best.Timestamp) || (s.Timestamp.Equal(best.Timestamp) && s.ID > best.ID) {
			best = s
		}
	}
	return best
}
