package ring

import (
	"cmp"
	"fmt"
	"math/bits"
	"slices"
)

// Base is the claim as replay left it at ring version Version, kept in a
// State in place of the history up to there. Claim's result depends on
// the order of every join and removal ever made, so without a base the
// state keeps an entry for every member that ever joined, and a span for
// every stint of each: a cluster that replaces its machines grows its
// ring gossip with every replacement. With a base, replay starts from it
// and the entries and spans that ended at or below it go (State.Compact).
//
// A base is what replay needs to go on exactly as it would have: the
// members alive at Version, in claim's order (the order they first
// joined, which breaks ties between equal loads), their zones in claim's
// order (which breaks ties between equal zone sizes), and every
// partition's replicas in claim's order within the partition. Those
// removed by then are left out and the rest keep their relative order, so
// every later change replays as it would from the whole history, but for
// a member or zone left out that comes back: it takes a new place after
// the others, as a newcomer would, where the whole history would have
// given it back its old one. Every node replays from the same base, so
// they still agree.
//
// A Base is a value: treat it and its slices as read-only.
type Base struct {
	// Version is the ring version the base stands at: the settled register
	// when it was taken, so every placement in it had received its data.
	Version uint64
	// Sum adds up the latest change of each entry a base dropped (this
	// one and those before it): State.Version counts it, so compacting
	// leaves the version as it was.
	Sum uint64
	// Partitions and Replicas are the q and n of the claim.
	Partitions, Replicas int
	// Zones lists the zones of Nodes in claim's order.
	Zones []string
	// Nodes lists the members alive at Version in claim's order.
	Nodes []BaseNode
	// Slots holds each partition's replicas as indices into Nodes,
	// Width() of them per partition, partition by partition.
	Slots []uint32
	// Rebalance, when not 0, is the version, above Version, of a
	// rebalance replayed right after the base (Event kind Rebalance): a
	// resize records its split as the base and evens the loads over the
	// new partitions with it, so that what it moves is handed off like a
	// join's transfers, under the plan. Compacting past it folds it in.
	Rebalance uint64
	// HalveTo, when not 0, is Partitions/2: a halving is under way
	// (State.Resize to a smaller count). The base and the events after it
	// align each pair of sibling partitions onto the same replicas (Align)
	// with ordinary transfers; once they are settled, State.FinishHalving
	// merges the pairs into a base of HalveTo partitions, moving nothing.
	HalveTo int
	// Align, when not 0, is the version, above Version, of an align
	// replayed right after the base (Event kind Align), for a halving.
	Align uint64
	// Layouts has bit i set for each ring size 2^i that the cluster's data
	// has been laid out under since it started, the base's Partitions
	// among them: a partition's keys may still sit under the storage ids
	// of any of them (persistence.DataSources). 0, as in a base from
	// before the field, stands for every size from the ring's initial
	// count up to Partitions (the only resizes then were splits).
	Layouts uint32
}

// LayoutSizes returns the ring sizes the cluster's data has been laid out
// under, ascending, for a ring that started with initial partitions
// (see Layouts); nil for a nil base, whose only layout is initial.
func (b *Base) LayoutSizes(initial int) []int {
	if b == nil {
		return nil
	}
	var out []int
	if b.Layouts == 0 {
		for q := initial; q <= b.Partitions; q *= 2 {
			out = append(out, q)
		}
		return out
	}
	for i := range 32 {
		if b.Layouts&(1<<i) != 0 {
			out = append(out, 1<<i)
		}
	}
	return out
}

// layoutsWith returns b's layouts (for a ring that started with initial
// partitions) with q's added.
func (b *Base) layoutsWith(initial, q int) uint32 {
	var bits uint32 = 1 << log2(initial)
	for _, s := range b.LayoutSizes(initial) {
		bits |= 1 << log2(s)
	}
	return bits | 1<<log2(q)
}

// log2 is the exponent of q, a power of two.
func log2(q int) int { return bits.Len(uint(q)) - 1 }

// BaseNode is a member alive at a Base's version: its id and its zone, an
// index into Base.Zones.
type BaseNode struct {
	ID   string
	Zone uint32
}

// Width is the number of replicas each partition of b has: min(n, members).
func (b *Base) Width() int { return min(b.Replicas, len(b.Nodes)) }

func (b *Base) sumOrZero() uint64 {
	if b == nil {
		return 0
	}
	return b.Sum
}

// clock is the latest change b records: its rebalance, else its
// version; 0 for a nil base.
func (b *Base) clock() uint64 {
	if b == nil {
		return 0
	}
	return max(b.Version, b.Rebalance, b.Align)
}

// VersionOrZero is b's Version, 0 for a nil base.
func (b *Base) VersionOrZero() uint64 {
	if b == nil {
		return 0
	}
	return b.Version
}

// baseVersion is the version of s's base, 0 when it has none.
func (s State) baseVersion() uint64 { return s.Base.VersionOrZero() }

// Compact returns s with its history up to the settled register replaced
// by a Base for q partitions and n replicas, and every membership span,
// removal, loss and handoff register that ended at or below it dropped (q
// is the count the ring started with; a resized base keeps its own): a
// member removed by then loses its entry, and an owner keeps its latest
// span. s is returned unchanged unless the register is at s.Clock() (no
// change since it settled) and above s's base, and s has an owner.
//
// Compacting changes nothing that routing, transfers or later claims see
// (TestState_CompactKeepsThePlan), with one exception Base describes: a
// member or zone dropped that comes back takes a new place in claim's
// order. The caller must know what SettleHandoffs asks: every live node
// holds every change at or below the register (Merge drops a change that
// arrives there later as late), and it compacts only with the q and n
// the cluster uses.
func (s State) Compact(q, n int) State {
	at := s.HandoffsSettled
	if at == 0 || at != s.Clock() || at <= s.baseVersion() || len(s.Owners()) == 0 {
		return s
	}
	members, base := s.baseAt(q, n, at, 0)
	return State{Members: members, Handoffs: forgetHandoffs(s.Members, at, s.Handoffs), HandoffsSettled: at, Base: base}
}

// baseAt replays s and returns its entries pruned at version at and the
// claimer's state there as a Base, whose Sum adds extra to what the
// entries dropped and s's base stood for (the changes State.Version
// counts). q is the count the ring started with.
func (s State) baseAt(q, n int, at, extra uint64) ([]MemberState, *Base) {
	c := newClaimerAt(s.Partitions(q), n, s.Base)
	for _, e := range s.History() {
		c.apply(e)
	}
	members := pruneMembers(s.Members, at)
	sum := s.Base.sumOrZero() + extra
	for _, m := range s.Members {
		if _, kept := (State{Members: members}).find(m.ID); !kept {
			sum += m.version()
		}
	}
	b := c.base(at, sum)
	if s.Base != nil {
		// What the history stands for that is not the claim: the
		// layouts the data has had, and a halving under way.
		b.Layouts, b.HalveTo = s.Base.Layouts, s.Base.HalveTo
	}
	return members, b
}

// pruneMembers returns ms, canonical entries, without what a base at v
// stands for: an entry whose changes are all at or below v and ends
// removed goes; of the others, each span that ended before the earliest
// span kept (see pruneEntry), and a forgotten-records register at or
// below v. ms itself is returned when nothing goes.
func pruneMembers(ms []MemberState, v uint64) []MemberState {
	if v == 0 {
		return ms
	}
	var out []MemberState
	changed := false
	for i, m := range ms {
		kept, ok := pruneEntry(m, v)
		if !ok || !sameEntry(kept, m) {
			if !changed {
				out, changed = slices.Clone(ms[:i]), true
			}
		}
		if changed && ok {
			out = append(out, kept)
		}
	}
	if !changed {
		return ms
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// pruneEntry returns m without what a base at v stands for, and false when
// nothing of it is left.
//
// Replay from the base starts with the members alive at v and applies
// only the changes above it, so a span matters to it only while it has a
// change above v, and every entry's spans also say whether the member is
// an owner (Removed). The spans kept are the latest, those with a join or
// removal above v, and every span that ends at or after the earliest join
// kept: a join sets the member alive whatever came before, so spans that
// end before it change nothing after it, neither replay's view nor
// Removed's, and the entry's latest change stays what it was (a loss is
// kept whenever it was: it is one number, and State.Version counts it).
func pruneEntry(m MemberState, v uint64) (MemberState, bool) {
	if m.version() <= v && m.Removed() {
		return MemberState{}, false
	}
	spans := m.spans()
	keep := make([]bool, len(spans))
	first := m.JoinVersion
	for i, sp := range spans {
		if i == len(spans)-1 || sp.Join > v || sp.Remove > v {
			keep[i] = true
			first = min(first, sp.Join)
		}
	}
	for grew := true; grew; {
		grew = false
		for i, sp := range spans {
			if !keep[i] && spanEnd(spans, i) >= first {
				keep[i], grew = true, true
				first = min(first, sp.Join)
			}
		}
	}
	var kept []Span
	for i, sp := range spans {
		if keep[i] {
			kept = append(kept, sp)
		}
	}
	out := fromSpans(m.ID, kept)
	out.RebuildVersion = m.RebuildVersion
	if m.HandoffsForgotten > v {
		out.HandoffsForgotten = m.HandoffsForgotten
	}
	return out, true
}

// spanEnd is when spans[i] ended: its removal, else the next span's join
// (a join in another zone ends the span before it), else never.
func spanEnd(spans []Span, i int) uint64 {
	switch {
	case spans[i].Remove != 0:
		return spans[i].Remove
	case i+1 < len(spans):
		return spans[i+1].Join
	}
	return ^uint64(0)
}

func sameEntry(a, b MemberState) bool {
	return a.ID == b.ID && a.Zone == b.Zone && a.JoinVersion == b.JoinVersion && a.RemoveVersion == b.RemoveVersion &&
		a.RebuildVersion == b.RebuildVersion && a.HandoffsForgotten == b.HandoffsForgotten && slices.Equal(a.Past, b.Past)
}

// aliveAt reports whether m is an owner after replaying its changes at or
// below v, and in which zone.
func aliveAt(m MemberState, v uint64) (zone string, alive bool) {
	var events []Event
	for _, sp := range m.spans() {
		if sp.Join <= v {
			events = append(events, Event{Kind: Join, Member: Member{ID: m.ID, Zone: sp.Zone}, Version: sp.Join})
		}
		if sp.Remove != 0 && sp.Remove <= v {
			events = append(events, Event{Kind: Remove, Member: Member{ID: m.ID, Zone: sp.Zone}, Version: sp.Remove})
		}
	}
	slices.SortFunc(events, compareEvents)
	for _, e := range events {
		alive = e.Kind == Join
		zone = e.Member.Zone
	}
	return zone, alive
}

// laterBase returns the base of the two at the higher version; two at one
// version (which agreeing nodes never make) are ordered by their content,
// so that Merge stays commutative.
func laterBase(a, b *Base) *Base {
	switch {
	case a == nil:
		return b
	case b == nil:
		return a
	case a.Version != b.Version:
		if a.Version > b.Version {
			return a
		}
		return b
	case compareBases(a, b) >= 0:
		return a
	}
	return b
}

func compareBases(a, b *Base) int {
	c := cmp.Or(cmp.Compare(a.Sum, b.Sum), cmp.Compare(a.Partitions, b.Partitions), cmp.Compare(a.Replicas, b.Replicas),
		slices.Compare(a.Zones, b.Zones), slices.Compare(a.Slots, b.Slots), cmp.Compare(a.Rebalance, b.Rebalance),
		cmp.Compare(a.HalveTo, b.HalveTo), cmp.Compare(a.Align, b.Align), cmp.Compare(a.Layouts, b.Layouts))
	if c != 0 {
		return c
	}
	return slices.CompareFunc(a.Nodes, b.Nodes, func(x, y BaseNode) int {
		return cmp.Or(cmp.Compare(x.ID, y.ID), cmp.Compare(x.Zone, y.Zone))
	})
}

// validateBase checks b against members, the canonical entries of the
// state that carries it, and its settled register: a base a node decoded
// from a peer must not make replay panic or disagree with the entries.
func validateBase(b *Base, members []MemberState, settled uint64) error {
	switch {
	case b.Version == 0:
		return fmt.Errorf("%w: base at version 0", ErrInvalidState)
	case b.Version > settled:
		return fmt.Errorf("%w: base at version %d, above the settled register (%d)", ErrInvalidState, b.Version, settled)
	case b.Rebalance != 0 && b.Rebalance <= b.Version:
		return fmt.Errorf("%w: base at version %d rebalances at %d, not after it", ErrInvalidState, b.Version, b.Rebalance)
	case b.HalveTo != 0 && b.HalveTo*2 != b.Partitions:
		return fmt.Errorf("%w: base of %d partitions halving to %d", ErrInvalidState, b.Partitions, b.HalveTo)
	case b.Align != 0 && (b.HalveTo == 0 || b.Align <= b.Version):
		return fmt.Errorf("%w: base at version %d aligns at %d, halving to %d", ErrInvalidState, b.Version, b.Align, b.HalveTo)
	case b.Layouts != 0 && (b.Layouts&(1<<log2(max(b.Partitions, 1))) == 0 || b.Layouts&^(uint32(MaxPartitions*2-1)&^uint32(MinPartitions-1)) != 0):
		return fmt.Errorf("%w: base of %d partitions with layouts %#x", ErrInvalidState, b.Partitions, b.Layouts)
	case ValidatePartitions(b.Partitions) != nil || b.Replicas <= 0:
		return fmt.Errorf("%w: base for %d partitions and %d replicas", ErrInvalidState, b.Partitions, b.Replicas)
	case len(b.Nodes) == 0:
		return fmt.Errorf("%w: base without members", ErrInvalidState)
	case len(b.Slots) != b.Partitions*b.Width():
		return fmt.Errorf("%w: base holds %d replicas, want %d partitions × %d", ErrInvalidState, len(b.Slots), b.Partitions, b.Width())
	}
	zoneUsed := make([]int, len(b.Zones))
	for i, z := range b.Zones {
		if slices.Contains(b.Zones[:i], z) {
			return fmt.Errorf("%w: base lists zone %q twice", ErrInvalidState, z)
		}
	}
	in := State{Members: members}
	alive := map[string]bool{}
	for _, nd := range b.Nodes {
		if int(nd.Zone) >= len(b.Zones) {
			return fmt.Errorf("%w: base member %q in zone %d of %d", ErrInvalidState, nd.ID, nd.Zone, len(b.Zones))
		}
		if alive[nd.ID] {
			return fmt.Errorf("%w: base lists member %q twice", ErrInvalidState, nd.ID)
		}
		alive[nd.ID] = true
		zoneUsed[nd.Zone]++
		i, found := in.find(nd.ID)
		if !found {
			return fmt.Errorf("%w: base member %q has no entry", ErrInvalidState, nd.ID)
		}
		if zone, ok := aliveAt(members[i], b.Version); !ok || zone != b.Zones[nd.Zone] {
			return fmt.Errorf("%w: base member %q in zone %q, not what its entry says at version %d", ErrInvalidState, nd.ID, b.Zones[nd.Zone], b.Version)
		}
	}
	for _, m := range members {
		if _, ok := aliveAt(m, b.Version); ok && !alive[m.ID] {
			return fmt.Errorf("%w: member %q is an owner at the base's version %d but not in the base", ErrInvalidState, m.ID, b.Version)
		}
	}
	zones := 0
	for z, k := range zoneUsed {
		if k == 0 {
			return fmt.Errorf("%w: base zone %q has no member", ErrInvalidState, b.Zones[z])
		}
		zones++
	}
	w := b.Width()
	for p := range b.Partitions {
		row := b.Slots[p*w : (p+1)*w]
		for j, v := range row {
			if int(v) >= len(b.Nodes) {
				return fmt.Errorf("%w: base partition %d: replica %d of %d members", ErrInvalidState, p, v, len(b.Nodes))
			}
			for _, u := range row[:j] {
				switch {
				case u == v:
					return fmt.Errorf("%w: base partition %d holds member %q twice", ErrInvalidState, p, b.Nodes[v].ID)
				case zones >= b.Replicas && b.Nodes[u].Zone == b.Nodes[v].Zone:
					// Claim keeps zones distinct once there are n of
					// them, and counts on it when a member leaves.
					return fmt.Errorf("%w: base partition %d repeats zone %q", ErrInvalidState, p, b.Zones[b.Nodes[v].Zone])
				}
			}
		}
	}
	return nil
}

// newClaimerAt returns a claimer for q and n that starts from b, or from
// nothing when b is nil. b must be valid and for q and n.
func newClaimerAt(q, n int, b *Base) *claimer {
	c := newClaimer(q, n)
	if b == nil {
		return c
	}
	if b.Partitions != q || b.Replicas != n {
		panic(fmt.Sprintf("ring: a base for q=%d n=%d replayed with q=%d n=%d", b.Partitions, b.Replicas, q, n))
	}
	for _, z := range b.Zones {
		c.zoneIdx[z] = int32(len(c.zoneNames))
		c.zoneNames = append(c.zoneNames, z)
		c.zoneSize = append(c.zoneSize, 0)
	}
	for i, bn := range b.Nodes {
		c.byID[bn.ID] = int32(i)
		c.nodes = append(c.nodes, c.newNode(bn.ID, int32(bn.Zone)))
		c.zoneSize[bn.Zone]++
	}
	c.zones, c.live, c.width = len(b.Zones), len(b.Nodes), b.Width()
	for p := range q {
		for j, v := range b.Slots[p*c.width : (p+1)*c.width] {
			c.slots[p*n+j] = int32(v)
			c.nodes[v].add(p)
			c.nodes[v].load++
		}
	}
	return c
}

// base returns the claimer's state as a Base at version, for a state
// whose Version is sum: the live members and their zones, renumbered in
// the order they have.
func (c *claimer) base(version, sum uint64) *Base {
	b := &Base{Version: version, Sum: sum, Partitions: c.q, Replicas: c.n}
	zoneAt := make([]uint32, len(c.zoneNames))
	for z, k := range c.zoneSize {
		if k > 0 {
			zoneAt[z] = uint32(len(b.Zones))
			b.Zones = append(b.Zones, c.zoneNames[z])
		}
	}
	nodeAt := make([]uint32, len(c.nodes))
	for i, nd := range c.nodes {
		if nd.alive {
			nodeAt[i] = uint32(len(b.Nodes))
			b.Nodes = append(b.Nodes, BaseNode{ID: nd.id, Zone: zoneAt[nd.zone]})
		}
	}
	b.Slots = make([]uint32, 0, c.q*c.width)
	for p := range c.q {
		for _, v := range c.replicas(p) {
			b.Slots = append(b.Slots, nodeAt[v])
		}
	}
	return b
}

// CompactIfSmaller returns s.Compact(q, n) when size, the size of a
// state's wire form, says that is smaller than s, else s. A base costs
// the bits of a member's index per replica slot (a couple of hundred bytes
// at Q=256, N=3 and a few members), so it pays once the entries and spans
// it drops outweigh it, and never for a cluster that only grew.
func (s State) CompactIfSmaller(q, n int, size func(State) int) State {
	c := s.Compact(q, n)
	if c.Base == s.Base || size(c) >= size(s) {
		return s
	}
	return c
}
