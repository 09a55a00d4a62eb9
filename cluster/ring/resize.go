package ring

import (
	"errors"
	"fmt"
	"slices"
)

// A resize changes Q, the number of partitions, on a live ring. Partition
// p of Q is the arc of keys whose hash starts with p's log2(Q) bits, so the
// arc splits exactly into partitions p·f … p·f+f−1 of Q·f (f a power of
// two) and every key of the children was a key of p. Giving each child p's
// replicas, in p's order, therefore moves nothing: every replica already
// holds the data of its new partitions. Riak's ring resize, by contrast,
// lays a new ring over the old one and transfers every partition.
//
// The split is recorded as a Base (see Base): the claimer's state at the
// resize, with every partition's replicas repeated f times, at a version
// of its own above every change. Replay starts from it, so later joins and
// removals claim over the new partitions with their usual balance and
// movement. Like a compaction it needs the records settled at the latest
// change, so that every placement it repeats had received its data; and
// it raises the settled register to its own version, so the split
// placements count as received.
//
// A split keeps every member's share: each holds f times its load, and f
// times a spread of one replica between members is a spread of f, where
// the finer partitions allow one. So the base carries a rebalance at the
// next version (Base.Rebalance), when it would move anything: replay
// evens the loads right after the split, and the replicas it moves are
// placements like a join's, handed off by ordinary transfers under the
// plan while their old holders serve. It moves about the sum of the
// members' shortfalls, a few replicas each at most, where a ring laid
// anew moves nearly all of them.
//
// Halving goes the other way in two steps (halve.go): first each pair of
// siblings p·2 and p·2+1 is aligned onto the same replicas, with ordinary
// transfers; once they are settled the pairs merge, each replica already
// holding both halves, and nothing moves.

// The rules a resize obeys. A refused resize returns a *ResizeError
// wrapping one of them.
var (
	// ErrResizeCount: the new count is not a power of two in range.
	ErrResizeCount = errors.New("ring: not a usable partition count")
	// ErrResizeShrink: the new count is below half the current one.
	ErrResizeShrink = errors.New("ring: the ring halves one step at a time")
	// ErrResizeHalving: a halving is under way.
	ErrResizeHalving = errors.New("ring: a halving is under way")
	// ErrResizeUnsettled: transfers of an earlier change are still
	// running, or their records are not yet settled cluster-wide.
	ErrResizeUnsettled = errors.New("ring: the ring has not settled")
	// ErrResizeEmpty: the ring has no owner, so nothing to split.
	ErrResizeEmpty = errors.New("ring: the ring has no owners")
)

// ResizeError is a refused resize: Err, one of the rules above, and the
// partition counts asked about.
type ResizeError struct {
	Err      error
	From, To int
}

// Error returns the reason with the package's prefix.
func (e *ResizeError) Error() string { return "ring: " + e.Reason() }

// Unwrap returns the rule, for errors.Is.
func (e *ResizeError) Unwrap() error { return e.Err }

// Reason is the operator's explanation of the refusal and what to do
// instead.
func (e *ResizeError) Reason() string {
	switch e.Err {
	case ErrResizeCount:
		return fmt.Sprintf("cannot resize to %d partitions: the count must be a power of two from %d to %d", e.To, MinPartitions, MaxPartitions)
	case ErrResizeShrink:
		return fmt.Sprintf("cannot resize from %d to %d partitions at once: the ring halves one step at a time; resize to %d, then again once it has settled", e.From, e.To, e.From/2)
	case ErrResizeHalving:
		return fmt.Sprintf("cannot resize to %d partitions now: the ring is halving to %d; retry once `dhtctl ring --summary` shows %d partitions and `dhtctl status` every partition settled", e.To, e.From/2, e.From/2)
	case ErrResizeUnsettled:
		return fmt.Sprintf("cannot resize from %d to %d partitions yet: an earlier membership change is still moving data (or its end is not yet agreed); retry once `dhtctl status` shows every partition settled", e.From, e.To)
	case ErrResizeEmpty:
		return "cannot resize a ring without owners: join a node first"
	}
	return fmt.Sprintf("%v: %d to %d partitions", e.Err, e.From, e.To)
}

// Partitions returns Q for s: its base's partition count, which a resize
// sets, else initial, the count the cluster started with.
func (s State) Partitions(initial int) int {
	if s.Base != nil {
		return s.Base.Partitions
	}
	return initial
}

// Resize returns s resized to `to` partitions, for a ring that started
// with initial partitions and keeps n replicas. To a larger count: a Base
// at version Clock()+1 in which each partition's replicas hold all of its
// children, with the settled register raised to it, and with a rebalance
// at the version after it when that evens the loads (see the comment at
// the top of this file). To half the count: a halving (halve.go), which
// aligns the sibling pairs, or merges them at once when they are aligned
// already. Resizing to the current count, or to the count a halving under
// way goes to, returns s unchanged.
//
// The caller must know what Compact asks: every live node holds every
// change at or below s.Clock() (Merge drops a change that arrives there
// later as late, and its node makes it again above), and none of the
// members the base drops is alive.
func (s State) Resize(initial, n, to int) (State, error) {
	from := s.Partitions(initial)
	switch {
	case ValidatePartitions(to) != nil:
		return s, &ResizeError{Err: ErrResizeCount, From: from, To: to}
	case to == from || (s.Base != nil && to == s.Base.HalveTo):
		return s, nil
	case s.Base != nil && s.Base.HalveTo != 0:
		return s, &ResizeError{Err: ErrResizeHalving, From: from, To: to}
	case to < from && to*2 != from:
		return s, &ResizeError{Err: ErrResizeShrink, From: from, To: to}
	case len(s.Owners()) == 0:
		return s, &ResizeError{Err: ErrResizeEmpty, From: from, To: to}
	case s.HandoffsSettled != s.Clock() || !NewPlan(initial, n, s).Settled():
		return s, &ResizeError{Err: ErrResizeUnsettled, From: from, To: to}
	}
	// The resize is a change of its own: its version counts in
	// State.Version, through the base's Sum.
	at := s.Clock() + 1
	members, base := s.baseAt(initial, n, at, at)
	if to < from {
		base.HalveTo = to
		return State{Members: members, HandoffsSettled: at, Base: halveOrAlign(base, initial, at)}, nil
	}
	split := splitBase(base, initial, to)
	if rebalanceMoves(split) {
		split.Rebalance = at + 1
	}
	return State{Members: members, HandoffsSettled: at, Base: split}, nil
}

// rebalanceMoves reports whether a rebalance replayed right after b would
// move a replica.
func rebalanceMoves(b *Base) bool {
	c := newClaimerAt(b.Partitions, b.Replicas, b)
	before := slices.Clone(c.slots)
	c.rebalance()
	return !slices.Equal(before, c.slots)
}

// splitBase returns b with its partitions split into to, each child
// holding its parent's replicas in order, and to among its layouts (for a
// ring that started with initial partitions). to must be a multiple of
// b.Partitions.
func splitBase(b *Base, initial, to int) *Base {
	f, w := to/b.Partitions, b.Width()
	out := *b
	out.Partitions, out.Layouts = to, b.layoutsWith(initial, to)
	out.Slots = make([]uint32, 0, to*w)
	for p := range b.Partitions {
		row := b.Slots[p*w : (p+1)*w]
		for range f {
			out.Slots = append(out.Slots, row...)
		}
	}
	return &out
}
