package ring

import "slices"

// Halving merges partitions 2p and 2p+1 of Q into partition p of Q/2, the
// arc they split from. A split needs no data to move because every child
// is held by its parent's replicas; a merge needs every replica of p to
// hold both halves, and two siblings' replica sets are, on a claimed
// ring, mostly different. So a halving takes two steps:
//
//  1. Align. State.Resize to Q/2 records a base at its own version with
//     HalveTo set and an Align event after it: replay gives each pair of
//     siblings the same replicas, those of one of the two, moving the
//     other's. Those moves are placements like a join's: written to at
//     once, read from once their transfer is done, their old holders
//     serving until then. It moves N − |both| replicas a pair, the least
//     any merge can (each replica of p must hold both halves), about half
//     of all replicas on a large ring.
//  2. Merge. Once the plan is settled and the records are settled at the
//     latest change, State.FinishHalving takes a base at a version of its
//     own in which p holds its children's (equal) replicas, with the
//     settled register raised to it: every placement had received both
//     halves, so nothing moves. A rebalance follows when it would move
//     anything, as after a split. Had a join or removal since the align
//     broken a pair, FinishHalving aligns again instead, and merges once
//     that has settled.
//
// Which sibling's set a pair keeps is chosen for balance: the one whose
// own members (those not in the other set) are less loaded, since they
// gain a replica each.

// align gives each pair of siblings the same replicas (see above).
func (c *claimer) align() {
	c.setTargets()
	var onlyA, onlyB []int32
	for p := 0; p+1 < c.q; p += 2 {
		a, b := c.replicas(p), c.replicas(p+1)
		onlyA, onlyB = onlyA[:0], onlyB[:0]
		for _, v := range a {
			if !slices.Contains(b, v) {
				onlyA = append(onlyA, v)
			}
		}
		for _, v := range b {
			if !slices.Contains(a, v) {
				onlyB = append(onlyB, v)
			}
		}
		if len(onlyA) == 0 {
			continue
		}
		// Keep the set whose own members are less loaded: they take the
		// other sibling.
		give, gainers, losers := p+1, onlyA, onlyB
		if c.sumExcess(onlyB).less(c.sumExcess(onlyA)) {
			give, gainers, losers = p, onlyB, onlyA
		}
		for i, v := range losers {
			c.move(give, v, gainers[i])
		}
	}
}

// sumExcess is the sum of vs's excesses.
func (c *claimer) sumExcess(vs []int32) frac {
	sum := frac{0, 1}
	for _, v := range vs {
		x := c.excess(v)
		if x.den == sum.den {
			sum.num += x.num
		} else {
			sum = frac{sum.num*x.den + x.num*sum.den, sum.den * x.den}
		}
	}
	return sum
}

// aligned reports whether every pair of siblings of b holds the same
// replicas.
func aligned(b *Base) bool {
	w := b.Width()
	for p := 0; p+1 < b.Partitions; p += 2 {
		a, c := b.Slots[p*w:(p+1)*w], b.Slots[(p+1)*w:(p+2)*w]
		for _, v := range a {
			if !slices.Contains(c, v) {
				return false
			}
		}
	}
	return true
}

// mergeBase returns aligned b with each pair of siblings merged into the
// partition they split from, which holds the even sibling's replicas in
// its order, with the halving done and the new count among the layouts.
func mergeBase(b *Base, initial int) *Base {
	w := b.Width()
	out := *b
	out.Partitions, out.HalveTo, out.Align = b.Partitions/2, 0, 0
	out.Layouts = b.layoutsWith(initial, out.Partitions)
	out.Slots = make([]uint32, 0, out.Partitions*w)
	for p := range out.Partitions {
		out.Slots = append(out.Slots, b.Slots[2*p*w:(2*p+1)*w]...)
	}
	return &out
}

// halveOrAlign returns the next base of a halving from b, a base at
// version at with HalveTo set: the merged base when b's pairs are
// aligned, with a rebalance after it if that moves anything; else b with
// an align after it.
func halveOrAlign(b *Base, initial int, at uint64) *Base {
	if !aligned(b) {
		b.Align = at + 1
		return b
	}
	merged := mergeBase(b, initial)
	if rebalanceMoves(merged) {
		merged.Rebalance = at + 1
	}
	return merged
}

// Halving reports the count a halving under way goes to, 0 when none is.
func (s State) Halving() int {
	if s.Base == nil {
		return 0
	}
	return s.Base.HalveTo
}

// FinishHalving takes the next step of a halving under way once its
// alignment is settled: it merges the aligned pairs into a base of half
// the partitions at version Clock()+1, with the settled register raised to
// it, or aligns again if a change since the align broke a pair (see the
// comment at the top of this file). It reports false, and returns s, when
// there is no halving under way, or the plan or the records are not yet
// settled at the latest change. q and n are the ring's initial count and
// its replicas.
//
// The caller must know what Resize asks: every live node holds every
// change at or below s.Clock(), and none of the members the base drops is
// alive.
func (s State) FinishHalving(q, n int) (State, bool) {
	if s.Halving() == 0 || s.HandoffsSettled != s.Clock() || !NewPlan(q, n, s).Settled() {
		return s, false
	}
	at := s.Clock() + 1
	members, base := s.baseAt(q, n, at, at)
	return State{Members: members, HandoffsSettled: at, Base: halveOrAlign(base, q, at)}, true
}
