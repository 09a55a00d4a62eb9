package checker

import "math/bits"

const (
	// exactLimit is the most writes of one key whose concurrency is
	// computed exactly; past it the figure is an upper bound.
	exactLimit = 8000
	// boundLimit is the most writes for which even the bound is computed
	// from the causal order; past it the bound is the write count.
	boundLimit = 20000
	// matchBudget bounds the words the exact matching may scan, so a
	// pathological key cannot stall the checker; running out leaves the
	// (still sound) bound of the matching found so far.
	matchBudget = 400_000_000
)

// width returns the width of the causal order of a key's writes: the size
// of its largest antichain, the most writes none of which had another in
// its past. live lists the writes (version indexes) and pasts[j] the
// versions in the past of live[j]. By Dilworth's theorem the width is the
// number of writes minus a maximum matching of the bipartite graph with an
// edge a→b whenever a is in b's past; exact is false when only a matching
// that may not be maximum was found, and the result is then an upper bound.
func width(live []int, pasts []bitset) (w int, exact bool) {
	n := len(live)
	if n == 0 {
		return 0, true
	}
	if n > boundLimit {
		return n, false
	}
	top := 0
	for _, v := range live {
		top = max(top, v)
	}
	pos := make([]int, top+1)
	for i := range pos {
		pos[i] = -1
	}
	for j, v := range live {
		pos[v] = j
	}
	words := (n + 63) / 64
	succ := make([]bitset, n)
	for i := range succ {
		succ[i] = make(bitset, words)
	}
	for j := range live {
		for k, word := range pasts[j] {
			for word != 0 {
				v := k*64 + bits.TrailingZeros64(word)
				word &= word - 1
				if v < len(pos) && pos[v] >= 0 {
					succ[pos[v]].set(j)
				}
			}
		}
	}

	matchR := make([]int, n) // right j -> left i
	matchL := make([]int, n)
	free := make(bitset, words) // rights not matched yet
	for j := range n {
		matchR[j], matchL[j] = -1, -1
		free.set(j)
	}
	matched := 0
	// Greedy first: most writes saw the one before, so this finds most of
	// the matching in one pass.
	for i := range n {
		for k := range words {
			if c := succ[i][k] & free[k]; c != 0 {
				j := k*64 + bits.TrailingZeros64(c)
				matchR[j], matchL[i] = i, j
				free[k] &^= 1 << (uint(j) % 64)
				matched++
				break
			}
		}
	}
	if n > exactLimit {
		return n - matched, false
	}
	budget := matchBudget
	visited := make(bitset, words)
	var augment func(i int) bool
	augment = func(i int) bool {
		for k := range words {
			budget--
			c := succ[i][k] &^ visited[k]
			for c != 0 {
				j := k*64 + bits.TrailingZeros64(c)
				c &= c - 1
				visited[k] |= 1 << (uint(j) % 64)
				if matchR[j] < 0 || (budget > 0 && augment(matchR[j])) {
					matchR[j], matchL[i] = i, j
					return true
				}
			}
		}
		return false
	}
	for i := range n {
		if matchL[i] >= 0 {
			continue
		}
		if budget <= 0 {
			return n - matched, false
		}
		clear(visited)
		if augment(i) {
			matched++
		}
	}
	return n - matched, budget > 0
}
