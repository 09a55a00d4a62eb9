package ring

import (
	"cmp"
	"fmt"
	"hash/fnv"
	"math/bits"
	"slices"
)

// Member is a node that owns replicas: its id and its failure zone. Members
// with the same Zone string share a zone; the empty zone is a zone like any
// other.
type Member struct {
	ID   string
	Zone string
}

// EventKind is the kind of an ownership change.
type EventKind int

// The ownership changes. Nothing else — no failure, restart or upgrade —
// changes who owns what.
const (
	// Join adds a member: it claims its share of replicas. A join of a
	// current owner with the same zone changes nothing; with another zone it
	// is a removal followed by a join.
	Join EventKind = iota + 1
	// Remove drops a member (decommission or force-remove): its replicas go
	// to the others.
	Remove
	// Rebalance evens the loads without a membership change: a resize
	// records one right after its split (Base.Rebalance), so that the
	// finer partitions spread as a claim on the larger ring would, with
	// moves that transfer like a join's.
	Rebalance
	// Align gives each pair of sibling partitions, 2p and 2p+1, the same
	// replicas, for a halving (Base.HalveTo): the pairs merge once the
	// transfers it makes are done.
	Align
)

func (k EventKind) String() string {
	switch k {
	case Join:
		return "join"
	case Remove:
		return "remove"
	case Rebalance:
		return "rebalance"
	case Align:
		return "align"
	}
	return fmt.Sprintf("event(%d)", int(k))
}

// Event is one ownership change. Claim replays events ordered by Version (a
// Lamport time), then Kind, then member id and zone, so every node orders the
// same set of events the same way whatever order it learnt them in.
type Event struct {
	Kind    EventKind
	Member  Member
	Version uint64
}

func compareEvents(a, b Event) int {
	return cmp.Or(
		cmp.Compare(a.Version, b.Version),
		cmp.Compare(a.Kind, b.Kind),
		cmp.Compare(a.Member.ID, b.Member.ID),
		cmp.Compare(a.Member.Zone, b.Member.Zone),
	)
}

// Table maps each partition to the nodes holding its replicas, in preference
// order. A Table is a value: treat it and its slices as read-only.
type Table struct {
	Partitions int
	N          int
	// Replicas[p] lists the ids of partition p's replicas in preference
	// order; there are min(N, len(Members)) of them, on distinct nodes. The
	// order ranks the replica set by a per-partition hash of each id, so the
	// first replica (the usual write coordinator) is spread evenly over the
	// members, and only a change to the replica set can change the order.
	Replicas [][]string
	// Members lists the owners, sorted by id.
	Members []Member
}

// Claim computes the table for q partitions and n replicas by replaying the
// ownership history in event order (see Event). q and n must be positive;
// callers check q with ValidatePartitions.
//
// The table depends only on the set of events, so every node that knows the
// same history computes the same table. It is not a function of the member
// set alone: replaying the history is what lets a change move only the
// replicas it must. The steps are:
//
//   - a join while there are at most n members adds the newcomer to every
//     partition;
//   - otherwise the newcomer takes replicas one at a time from the member
//     furthest above its fair share, for as long as that narrows the spread
//     of loads, picking among the victim's partitions in the newcomer's own
//     pseudo-random order so that its partitions scatter over the ring;
//   - a removal hands each of the removed member's replicas to the eligible
//     member furthest below its fair share;
//   - when the members span at least n zones, a replica may only go where
//     its zone is new to the partition; a join that first brings the zone
//     count to n also repairs the partitions that still repeat a zone.
//
// A member's fair share is n·q/S with S members. When the members span at
// least n zones, a zone can hold at most one replica of each partition, so
// at most q in all: zones that would exceed that are capped at q, shared
// equally by their members, and the remaining replicas are shared equally by
// the members of the other zones. With n zones this is q/size per member of
// a zone, whatever the sizes.
//
// The properties claim_test.go checks: replicas of a partition are distinct
// nodes, in distinct zones whenever the members span at least n zones;
// loads stay within 10% (or 2 replicas) of the fair share without zones or
// with round-robin zones, and near it with uneven zones; a join (other than the
// one that first brings the zone count to n) moves replicas only to the
// newcomer, about its fair share of them; a removal moves only the removed
// member's replicas. Package doc lists where these bend by design.
//
// The algorithm is part of the protocol between nodes: nodes that compute
// different tables from the same history disagree on ownership, so a change
// to it needs a coordinated upgrade (testdata/claim.golden pins it).
func Claim(q, n int, history []Event) Table {
	if q <= 0 || n <= 0 {
		panic(fmt.Sprintf("ring: Claim needs positive partitions and replicas, got q=%d n=%d", q, n))
	}
	events := slices.Clone(history)
	slices.SortFunc(events, compareEvents)
	c := newClaimer(q, n)
	for _, e := range events {
		c.apply(e)
	}
	return c.table()
}

// frac is the rational num/den, den > 0. Fair shares are compared exactly,
// in integers: floating point could round differently on another
// architecture (Go may fuse multiply-adds), and nodes must agree bit for bit.
type frac struct{ num, den int64 }

func (a frac) less(b frac) bool { return a.num*b.den < b.num*a.den }

func (a frac) cmp(b frac) int { return cmp.Compare(a.num*b.den, b.num*a.den) }

// node is a member as the claimer tracks it.
type node struct {
	id     string
	zone   int32
	alive  bool
	seed   uint64 // hash of id: the root of the node's pseudo-random orders
	load   int    // replicas held
	target frac   // fair share
	held   []uint64
	used   []uint64 // bit w set where held[w] is not 0: held is sparse

	// Scratch for one join, when the node is a victim (see nextSteal):
	// its queue of partitions handed out from the newcomer's order, as
	// entries of claimer.queued (-1 when empty), or its candidates
	// claimer.cands[candLo:candHi] (candLo < 0 until it is first picked)
	// and how many of them it has popped.
	head, tail     int32
	candLo, candHi int32
	popped         int32
}

func (nd *node) holds(p int) bool { return nd.held[p>>6]&(1<<(p&63)) != 0 }

// add and drop record that the node holds p or no longer does.
func (nd *node) add(p int) {
	w := p >> 6
	nd.held[w] |= 1 << (p & 63)
	nd.used[w>>6] |= 1 << (w & 63)
}

func (nd *node) drop(p int) {
	w := p >> 6
	if nd.held[w] &^= 1 << (p & 63); nd.held[w] == 0 {
		nd.used[w>>6] &^= 1 << (w & 63)
	}
}

// claimer is the table being built by replay. Partition p's replicas are
// slots[p*n : p*n+width], in no particular order; table() orders them.
type claimer struct {
	q, n          int
	width         int // replicas per partition: min(n, live)
	slots         []int32
	nodes         []node
	byID          map[string]int32
	zoneIdx       map[string]int32
	zoneNames     []string
	zoneSize      []int // live members per zone
	zones         int   // zones with live members
	live          int
	rankMask      uint64   // the low bits of a rank that hold its partition (stealRank)
	victims       []victim // scratch of steal: a heap of the members it may take from
	reserve       []victim // scratch of steal: members it may take from, not yet in victims
	walk          bool     // whether this join's victims walk order (nextSteal)
	order         []int32  // the partitions in the joining node's order, as far as sorted (orderFor)
	sortedBuckets int      // how many of orderFor's buckets are in order
	handed        int      // how much of order handOut has handed out
	queued        []int32  // queue entries: the partition
	queuedNext    []int32  // queue entries: the next entry in the same queue, or -1
	cands         []uint64 // the victims' candidates, when they do not walk order
	keys          []uint64 // the joining node's rank of each partition (orderFor)
	packed        []uint64 // the ranks in orderFor's buckets
	buckets       []int32  // where orderFor's buckets end in packed
	share         []frac   // scratch of setTargets, per zone
	zoneOrder     []int    // scratch of setTargets
	evening       int      // when rebalancing (not 0), steal's m takes only while its load plus evening−1 is at most its fair share

	// watch, when set, hears of every change to a replica set as replay
	// makes it: NewPlan follows placements through it.
	watch placementWatcher
}

// placementWatcher hears the claimer's changes to replica sets: a member
// added to a partition, a replica moved from one member to another, and a
// removed member's replica dropped without an heir.
type placementWatcher interface {
	added(p int, v int32)
	moved(p int, from, to int32)
	dropped(p int, v int32)
}

func newClaimer(q, n int) *claimer {
	return &claimer{
		q: q, n: n, slots: make([]int32, q*n), byID: map[string]int32{}, zoneIdx: map[string]int32{},
		rankMask: 1<<bits.Len(uint(q-1)) - 1,
	}
}

func (c *claimer) apply(e Event) {
	switch e.Kind {
	case Join:
		c.join(e.Member)
	case Remove:
		c.remove(e.Member.ID)
	case Rebalance:
		c.rebalance()
	case Align:
		c.align()
	}
}

// diverse reports whether the members span enough zones for every partition
// to have its replicas in distinct zones.
func (c *claimer) diverse() bool { return c.zones >= c.n }

func (c *claimer) replicas(p int) []int32 { return c.slots[p*c.n : p*c.n+c.width] }

// zoneTaken reports whether a replica of p other than skip is in zone.
func (c *claimer) zoneTaken(p int, zone, skip int32) bool {
	for _, v := range c.replicas(p) {
		if v != skip && c.nodes[v].zone == zone {
			return true
		}
	}
	return false
}

// zoneRepeated reports whether another replica of p shares v's zone.
func (c *claimer) zoneRepeated(p int, v int32) bool { return c.zoneTaken(p, c.nodes[v].zone, v) }

// violated reports whether two replicas of p share a zone.
func (c *claimer) violated(p int) bool {
	for _, v := range c.replicas(p) {
		if c.zoneRepeated(p, v) {
			return true
		}
	}
	return false
}

// excess is how far v's load is above its fair share (negative below it).
func (c *claimer) excess(v int32) frac {
	nd := &c.nodes[v]
	return frac{int64(nd.load)*nd.target.den - nd.target.num, nd.target.den}
}

// improves reports whether moving one replica from v to m lowers the sum of
// squared excesses, that is whether excess(v) − excess(m) > 1.
func (c *claimer) improves(v, m int32) bool {
	ev, em := c.excess(v), c.excess(m)
	return ev.num*em.den-em.num*ev.den > ev.den*em.den
}

// move gives from's replica of partition p to to.
func (c *claimer) move(p int, from, to int32) {
	rs := c.replicas(p)
	rs[slices.Index(rs, from)] = to
	if c.watch != nil {
		c.watch.moved(p, from, to)
	}
	f, t := &c.nodes[from], &c.nodes[to]
	f.drop(p)
	t.add(p)
	f.load--
	t.load++
}

func (c *claimer) join(m Member) {
	id, wasDiverse, placed := c.admit(m)
	if placed {
		return
	}
	c.setTargets()
	// Partitions can repeat a zone only while the members span fewer than
	// n zones: placements made since respect diversity. So only the join
	// that brings the zone count to n has repeats to repair.
	transition := !wasDiverse && c.diverse()
	if transition {
		c.stealRepairs(id)
	}
	c.steal(id)
	if transition {
		c.repair()
	}
}

// rebalance evens the loads: each member below its fair share, the
// furthest below first (the lowest index among equals), takes replicas as
// a newcomer does (steal), from the members furthest above theirs, for as
// long as that narrows the spread of loads: first up to the whole
// replicas of its share, then, in a second round, by one more replica
// where that still narrows the spread. So every move goes from a member
// at or above its share to one below it, and the replicas moved are
// about the sum of the shortfalls, the least any even claim could move.
// (Taking past its share in one go, a member would become a victim of
// the next, and its replica would move twice.)
//
// A split needs it: it gives every member twice its load on the smaller
// ring, and twice a spread of one replica is a spread of two, where the
// finer partitions allow one (at 1,000 members, the worst member 6% above
// the mean instead of 2%).
func (c *claimer) rebalance() {
	if c.live <= c.n {
		return // every member holds every partition
	}
	c.setTargets()
	var below []victim
	for i := range c.nodes {
		if nd := &c.nodes[i]; nd.alive {
			if x := c.excess(int32(i)); x.num < 0 {
				below = append(below, victim{x, int32(i)})
			}
		}
	}
	// Most below first: the reverse of steal's order on excess, the
	// lower index first among equals.
	slices.SortFunc(below, func(a, b victim) int { return cmp.Or(a.ex.cmp(b.ex), cmp.Compare(a.v, b.v)) })
	// First each takes up to the whole replicas of its share, then one
	// more where the spread allows: a member past its share would be a
	// victim of the next.
	for _, c.evening = range []int{2, 1} {
		for _, m := range below {
			c.steal(m.v)
		}
	}
	c.evening = 0
}

// admit records m as a live member and returns its index and whether the
// members spanned n zones before it came. placed reports that nothing is
// left for join to do: m was already a member in that zone, or there are at
// most n members and m now holds every partition.
func (c *claimer) admit(m Member) (id int32, wasDiverse, placed bool) {
	if i, ok := c.byID[m.ID]; ok && c.nodes[i].alive {
		if c.zoneNames[c.nodes[i].zone] == m.Zone {
			return i, c.diverse(), true
		}
		c.remove(m.ID) // a new zone: its replicas must be placed anew
	}
	z, ok := c.zoneIdx[m.Zone]
	if !ok {
		z = int32(len(c.zoneSize))
		c.zoneIdx[m.Zone] = z
		c.zoneNames = append(c.zoneNames, m.Zone)
		c.zoneSize = append(c.zoneSize, 0)
	}
	nd := c.newNode(m.ID, z)
	id, ok = c.byID[m.ID]
	if ok {
		c.nodes[id] = nd
	} else {
		id = int32(len(c.nodes))
		c.byID[m.ID] = id
		c.nodes = append(c.nodes, nd)
	}
	wasDiverse = c.diverse()
	if c.zoneSize[z] == 0 {
		c.zones++
	}
	c.zoneSize[z]++
	c.live++

	if c.live <= c.n {
		// Fewer members than replicas: every member holds every partition.
		for p := 0; p < c.q; p++ {
			c.slots[p*c.n+c.width] = id
			c.nodes[id].add(p)
			if c.watch != nil {
				c.watch.added(p, id)
			}
		}
		c.nodes[id].load = c.q
		c.width++
		return id, wasDiverse, true
	}
	return id, wasDiverse, false
}

// newNode returns a live member with nothing held yet.
func (c *claimer) newNode(id string, zone int32) node {
	words := (c.q + 63) / 64
	bitsets := make([]uint64, words+(words+63)/64)
	return node{id: id, zone: zone, alive: true, seed: hashID(id), held: bitsets[:words:words], used: bitsets[words:]}
}

// stealRank is a newcomer's rank of partition p, given the newcomer's
// seed: it takes partitions in ascending rank order, so its picks scatter
// over the ring. The rank is spread(seed, p) with its low bits replaced by
// p, so ranks are unique (no tie to break) and the partition can be read
// back from its rank.
func (c *claimer) stealRank(seed uint64, p int) uint64 {
	return spread(seed, p, saltSteal)&^c.rankMask | uint64(p)
}

// orderFor ranks every partition for m, for handOut to hand out in rank
// order (c.walk). Ranks are uniform, so a counting sort on their top bits,
// into about as many buckets as partitions, orders them but for the
// (tiny) buckets' insides, in linear time where a comparison sort would
// dominate a join's cost. The walk rarely goes far, only until each victim
// has found its partitions, so extendOrder sorts the buckets' insides
// lazily, as the walk reaches them.
func (c *claimer) orderFor(m int32) {
	shift := 64 - bits.Len(uint(c.q-1)) // a shift by 64 leaves 0: one bucket
	nb := 1<<(64-shift) + 1
	buckets := slices.Grow(c.buckets[:0], nb)[:nb]
	clear(buckets)
	c.buckets = buckets
	keys := slices.Grow(c.keys[:0], c.q)[:c.q]
	c.keys = keys
	seed := c.nodes[m].seed
	for p := range keys {
		keys[p] = c.stealRank(seed, p)
		buckets[keys[p]>>shift+1]++
	}
	for i := 1; i < nb; i++ {
		buckets[i] += buckets[i-1]
	}
	packed := slices.Grow(c.packed[:0], c.q)[:c.q]
	c.packed = packed
	for _, k := range keys {
		i := &buckets[k>>shift]
		packed[*i] = k
		*i++
	}
	// Now bucket b spans packed[buckets[b-1]:buckets[b]].
	c.order, c.sortedBuckets = c.order[:0], 0
}

// extendOrder appends to c.order the partitions of the next nonempty
// bucket, sorted; it returns false when all are there.
func (c *claimer) extendOrder() bool {
	for c.sortedBuckets < len(c.buckets)-1 {
		b := c.sortedBuckets
		c.sortedBuckets++
		lo := 0
		if b > 0 {
			lo = int(c.buckets[b-1])
		}
		seg := c.packed[lo:c.buckets[b]]
		for i := 1; i < len(seg); i++ {
			for j := i; j > 0 && seg[j] < seg[j-1]; j-- {
				seg[j], seg[j-1] = seg[j-1], seg[j]
			}
		}
		for _, k := range seg {
			c.order = append(c.order, int32(k&c.rankMask))
		}
		if len(seg) > 0 {
			return true
		}
	}
	return false
}

// stealRepairs lets the newcomer m, whose join brought the zone count to n,
// take (in its own partition order) replicas whose zone is repeated in their
// partition, where the move improves balance. Each spares repair() a move
// between other members.
func (c *claimer) stealRepairs(m int32) {
	var ranks []uint64
	for p := 0; p < c.q; p++ {
		if c.violated(p) {
			ranks = append(ranks, c.stealRank(c.nodes[m].seed, p))
		}
	}
	slices.Sort(ranks)
	zm := c.nodes[m].zone
	for _, r := range ranks {
		p := int(r & c.rankMask)
		if c.zoneTaken(p, zm, -1) {
			continue
		}
		victim := int32(-1)
		for _, v := range c.replicas(p) {
			if c.zoneRepeated(p, v) && (victim < 0 || c.excess(victim).less(c.excess(v))) {
				victim = v
			}
		}
		if c.improves(victim, m) {
			c.move(p, victim, m)
		}
	}
}

// steal moves replicas to the newcomer m from the member furthest above its
// fair share, while that narrows the spread of loads. The victim is the live
// member other than m with the largest excess, the lowest index among equal
// excesses, leaving out those with nothing left that m may take; from it m
// takes the first partition in m's order that it may (nextSteal).
//
// Scanning every member for the victim before each replica taken cost
// O(S) a replica, half a replay's time at a thousand members, so the
// members sit in a binary heap in that same strict order: its top is
// exactly the member the scan would pick. Targets are fixed for the join and
// m is not in the heap, so taking a replica changes only the victim's
// excess, and only downwards: it sifts down. A victim with nothing left is
// popped.
//
// A join to many members takes only from some of those above their fair
// share, so the members at or below it wait in a reserve, which joins the
// heap only when its best member would come before the heap's top. Until
// then the heap's top is still the scan's pick.
func (c *claimer) steal(m int32) {
	h, r := c.victims[:0], c.reserve[:0]
	var lead victim // the reserve's first, when it is not empty
	for i := range c.nodes {
		if nd := &c.nodes[i]; int32(i) != m && nd.alive {
			nd.head, nd.candLo, nd.popped = -1, -1, 0
			x := victim{c.excess(int32(i)), int32(i)}
			switch {
			case x.ex.num > 0:
				h = append(h, x)
			case len(r) == 0 || x.before(lead):
				lead = x
				fallthrough
			default:
				r = append(r, x)
			}
		}
	}
	c.victims, c.reserve, c.cands = h, r, c.cands[:0]
	c.handed, c.queued, c.queuedNext = 0, c.queued[:0], c.queuedNext[:0]
	c.heapifyVictims()
	// The mean load is about what each victim holds, and about how many
	// replicas m takes, each usually from another victim: ranking only the
	// victims' partitions costs about its square, ranking all of them q.
	mean := c.n * c.q / c.live
	c.walk = mean*mean > c.q
	if c.walk {
		c.orderFor(m)
	}
	for {
		if len(c.reserve) > 0 && (len(c.victims) == 0 || lead.before(c.victims[0])) {
			c.victims, c.reserve = append(c.victims, c.reserve...), c.reserve[:0]
			c.heapifyVictims()
		}
		if len(c.victims) == 0 {
			return
		}
		best := &c.victims[0]
		if !c.improves(best.v, m) || (c.evening > 0 && c.nodes[m].target.less(frac{int64(c.nodes[m].load + c.evening - 1), 1})) {
			return
		}
		if p, ok := c.nextSteal(best.v, m); ok {
			c.move(p, best.v, m)
			best.ex.num -= best.ex.den // one replica less: excess(best.v)
		} else {
			last := len(c.victims) - 1
			c.victims[0] = c.victims[last]
			c.victims = c.victims[:last]
		}
		c.siftVictim(0)
	}
}

// victim is a member steal may take from, with its excess, kept up to
// date as it gives replicas: the heap compares these without reaching
// into the nodes.
type victim struct {
	ex frac
	v  int32
}

// before reports whether steal prefers a to b: a is further above its fair
// share, or as far and has the lower index.
func (a victim) before(b victim) bool {
	if a.ex.den == b.ex.den { // most members share a fair share: skip the products
		if a.ex.num != b.ex.num {
			return a.ex.num > b.ex.num
		}
		return a.v < b.v
	}
	if d := a.ex.cmp(b.ex); d != 0 {
		return d > 0
	}
	return a.v < b.v
}

func (c *claimer) heapifyVictims() {
	for i := len(c.victims)/2 - 1; i >= 0; i-- {
		c.siftVictim(i)
	}
}

// siftVictim moves c.victims[i] down the heap to its place.
func (c *claimer) siftVictim(i int) {
	h := c.victims
	for {
		top := i
		if l := 2*i + 1; l < len(h) && h[l].before(h[top]) {
			top = l
		}
		if r := 2*i + 2; r < len(h) && h[r].before(h[top]) {
			top = r
		}
		if top == i {
			return
		}
		h[i], h[top] = h[top], h[i]
		i = top
	}
}

// nextSteal returns the first partition, in m's order (stealRank), that m
// may take from v (mayTake).
//
// Whether m may take p from v only ever changes from yes to no during a
// join: v gains no replicas, m loses none, and m taking p from anyone makes
// it no. So each victim can resume where it stopped, and what it skips is
// never eligible again. There are two ways to find v's next partition,
// which yield the same ones:
//
//   - with large loads (c.walk), m's order is handed out once, partition
//     by partition, to queues of the members holding each (handOut), as
//     far as the victims need; v pops its own queue, which lists, in m's
//     order, every partition handed out that v held then;
//   - with small loads against q, the first time v is picked its
//     candidates (the partitions it holds and m does not) are ranked, and
//     each call pops the least.
//
// The first costs about q a join, the second the victims' loads.
func (c *claimer) nextSteal(v, m int32) (int, bool) {
	nd := &c.nodes[v]
	if c.walk {
		for {
			if nd.head < 0 {
				if !c.handOut(m) {
					return 0, false
				}
				continue
			}
			e := nd.head
			nd.head = c.queuedNext[e]
			if p := int(c.queued[e]); c.mayTake(p, v, m) {
				return p, true
			}
		}
	}
	if nd.candLo < 0 {
		c.rankCandidates(v, m)
	}
	for nd.candHi > nd.candLo {
		// Pop the least rank to the end. Most victims are popped once or
		// twice (they give one replica, or their first candidate is in a
		// zone m may not take), and a scan finds the least for less than
		// building a heap would; a heap bounds the cost for the others.
		h := c.cands[nd.candLo:nd.candHi]
		switch {
		case nd.popped < scanPops:
			leastLast(h)
		case nd.popped == scanPops:
			heapifyRanks(h)
			fallthrough
		default:
			popRank(h)
		}
		p := int(h[len(h)-1] & c.rankMask)
		nd.candHi--
		nd.popped++
		if c.mayTake(p, v, m) {
			return p, true
		}
	}
	return 0, false
}

// rankCandidates puts m's ranks of v's candidates, the partitions v holds
// and m does not, in c.cands[candLo:candHi].
func (c *claimer) rankCandidates(v, m int32) {
	nd, seed, taken := &c.nodes[v], c.nodes[m].seed, c.nodes[m].held
	lo := len(c.cands)
	for u, used := range nd.used {
		for ; used != 0; used &= used - 1 {
			w := u*64 + bits.TrailingZeros64(used)
			for word := nd.held[w] &^ taken[w]; word != 0; word &= word - 1 {
				c.cands = append(c.cands, c.stealRank(seed, w*64+bits.TrailingZeros64(word)))
			}
		}
	}
	nd.candLo, nd.candHi = int32(lo), int32(len(c.cands))
}

// handOut appends the next partition in m's order to the queue of each
// member holding it that m may take it from; it returns false when m's
// order is all handed out. Those m may not take it from now never may in
// this join, so they are passed over.
func (c *claimer) handOut(m int32) bool {
	if c.handed == len(c.order) && !c.extendOrder() {
		return false // extendOrder appends at least one partition or none is left
	}
	p := int(c.order[c.handed])
	c.handed++
	mn := &c.nodes[m]
	if mn.holds(p) {
		return true
	}
	// With zone diversity, a replica in m's zone leaves m only that one.
	sameZoneOnly := c.diverse() && c.zoneTaken(p, mn.zone, -1)
	for _, v := range c.replicas(p) {
		if sameZoneOnly && c.nodes[v].zone != mn.zone {
			continue
		}
		e := int32(len(c.queued))
		c.queued = append(c.queued, int32(p))
		c.queuedNext = append(c.queuedNext, -1)
		if nd := &c.nodes[v]; nd.head < 0 {
			nd.head, nd.tail = e, e
		} else {
			c.queuedNext[nd.tail], nd.tail = e, e
		}
	}
	return true
}

// mayTake reports whether m may take v's replica of p: v holds it, m does
// not, and with zone diversity no other replica of p is in m's zone.
func (c *claimer) mayTake(p int, v, m int32) bool {
	nd, mn := &c.nodes[v], &c.nodes[m]
	if !nd.holds(p) || mn.holds(p) {
		return false
	}
	return !c.diverse() || nd.zone == mn.zone || !c.zoneTaken(p, mn.zone, v)
}

// scanPops is how many of a victim's candidates nextSteal pops by a
// linear scan before it makes a heap of the rest.
const scanPops = 3

// leastLast swaps h's least element to its end.
func leastLast(h []uint64) {
	i := 0
	for j, r := range h {
		if r < h[i] {
			i = j
		}
	}
	h[i], h[len(h)-1] = h[len(h)-1], h[i]
}

// heapifyRanks makes h a min-heap; popRank moves its least element to the
// end, leaving h[:len(h)-1] a min-heap.
func heapifyRanks(h []uint64) {
	for i := len(h)/2 - 1; i >= 0; i-- {
		siftRank(h, i)
	}
}

func popRank(h []uint64) {
	last := len(h) - 1
	h[0], h[last] = h[last], h[0]
	siftRank(h[:last], 0)
}

func siftRank(h []uint64, i int) {
	for {
		least := i
		if l := 2*i + 1; l < len(h) && h[l] < h[least] {
			least = l
		}
		if r := 2*i + 2; r < len(h) && h[r] < h[least] {
			least = r
		}
		if least == i {
			return
		}
		h[i], h[least] = h[least], h[i]
		i = least
	}
}

// repair gives distinct zones to every partition that repeats one: the
// repeated replica furthest above its share goes to the member, from a zone
// the partition lacks, furthest below its share. Only the join that brings
// the zone count to n leaves work for it.
func (c *claimer) repair() {
	for p := 0; p < c.q; p++ {
		for c.violated(p) {
			evict := int32(-1)
			for _, v := range c.replicas(p) {
				if c.zoneRepeated(p, v) && (evict < 0 || c.excess(evict).less(c.excess(v))) {
					evict = v
				}
			}
			heir := c.heir(p, evict, true)
			if heir < 0 {
				panic("ring: claim: no member in a zone missing from a partition although the members span enough zones")
			}
			c.move(p, evict, heir)
		}
	}
}

// heir picks who takes leaving's replica of p: a live member not holding p,
// in a zone no other replica of p has when strict, furthest below its fair
// share; ties go by a per-partition pseudo-random order.
func (c *claimer) heir(p int, leaving int32, strict bool) int32 {
	best, bestKey := int32(-1), uint64(0)
	var bestEx frac
	for i := range c.nodes {
		v := int32(i)
		nd := &c.nodes[i]
		if !nd.alive || v == leaving || nd.holds(p) || (strict && c.zoneTaken(p, nd.zone, leaving)) {
			continue
		}
		ex := c.excess(v)
		key := spread(nd.seed, p, saltHeir)
		if best < 0 || ex.less(bestEx) || (!bestEx.less(ex) && key < bestKey) {
			best, bestEx, bestKey = v, ex, key
		}
	}
	return best
}

func (c *claimer) remove(id string) {
	x, ok := c.byID[id]
	if !ok || !c.nodes[x].alive {
		return
	}
	xn := &c.nodes[x]
	xn.alive = false
	c.zoneSize[xn.zone]--
	if c.zoneSize[xn.zone] == 0 {
		c.zones--
	}
	c.live--
	if c.live < c.n {
		// x was on every partition, as is everyone left: drop its slot.
		for p := 0; p < c.q; p++ {
			rs := c.replicas(p)
			i := slices.Index(rs, x)
			copy(rs[i:], rs[i+1:])
			if c.watch != nil {
				c.watch.dropped(p, x)
			}
		}
		c.width--
		xn.load = 0
		clear(xn.held)
		clear(xn.used)
		return
	}
	c.setTargets()
	diverse := c.diverse()
	for w, word := range slices.Clone(xn.held) {
		for word != 0 {
			p := w*64 + bits.TrailingZeros64(word)
			word &= word - 1
			// With diversity, the others of p span n-1 zones and at least
			// n zones have members, so a strict heir exists; without it,
			// p's n-1 others leave at least one of the ≥ n members.
			heir := c.heir(p, x, diverse)
			if heir < 0 {
				panic("ring: claim: no member can take a removed member's replica")
			}
			c.move(p, x, heir)
		}
	}
}

// setTargets computes every live member's fair share. Without zone
// diversity it is n·q/live. With it, a zone holds at most q replicas (one per
// partition), so water-fill: while the largest uncapped zone's members would
// get q or more between them at the current per-member share, cap that zone
// at q (q/size each) and share the rest among the other zones' members.
func (c *claimer) setTargets() {
	total := int64(c.n * c.q)
	share := slices.Grow(c.share[:0], len(c.zoneSize))[:len(c.zoneSize)]
	c.share = share
	if !c.diverse() {
		for z := range share {
			share[z] = frac{total, int64(c.live)}
		}
	} else {
		order := c.zoneOrder[:0]
		for z, k := range c.zoneSize {
			if k > 0 {
				order = append(order, z)
			}
		}
		c.zoneOrder = order
		slices.SortFunc(order, func(a, b int) int { return cmp.Or(cmp.Compare(c.zoneSize[b], c.zoneSize[a]), cmp.Compare(a, b)) })
		rest, members := total, int64(c.live)
		q := int64(c.q)
		i := 0
		for ; i < len(order); i++ {
			k := int64(c.zoneSize[order[i]])
			if k*rest < q*members {
				break
			}
			share[order[i]] = frac{q, k}
			rest -= q
			members -= k
		}
		for ; i < len(order); i++ {
			share[order[i]] = frac{rest, members}
		}
	}
	for i := range c.nodes {
		if c.nodes[i].alive {
			c.nodes[i].target = share[c.nodes[i].zone]
		}
	}
}

func (c *claimer) table() Table {
	t := Table{Partitions: c.q, N: c.n, Replicas: make([][]string, c.q)}
	for i := range c.nodes {
		if nd := &c.nodes[i]; nd.alive {
			t.Members = append(t.Members, Member{ID: nd.id, Zone: c.zoneNames[nd.zone]})
		}
	}
	slices.SortFunc(t.Members, func(a, b Member) int { return cmp.Compare(a.ID, b.ID) })
	w := c.width
	flat := make([]string, c.q*w)
	keys := make([]uint64, w)
	ids := make([]int32, w)
	for p := 0; p < c.q; p++ {
		copy(ids, c.replicas(p))
		for i, v := range ids {
			keys[i] = spread(c.nodes[v].seed, p, saltOrder)
		}
		// Insertion sort by (key, id): w is tiny.
		for i := 1; i < w; i++ {
			for j := i; j > 0 && (keys[j] < keys[j-1] || (keys[j] == keys[j-1] && c.nodes[ids[j]].id < c.nodes[ids[j-1]].id)); j-- {
				keys[j], keys[j-1] = keys[j-1], keys[j]
				ids[j], ids[j-1] = ids[j-1], ids[j]
			}
		}
		row := flat[p*w : (p+1)*w : (p+1)*w]
		for i, v := range ids {
			row[i] = c.nodes[v].id
		}
		t.Replicas[p] = row
	}
	return t
}

// Salts keep a node's pseudo-random orders independent of each other: the
// order it steals partitions in must not decide where it ranks in them.
const (
	saltSteal uint64 = 0x5851f42d4c957f2d
	saltHeir  uint64 = 0x14057b7ef767814f
	saltOrder uint64 = 0x2545f4914f6cdd1d
)

func hashID(id string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(id))
	return h.Sum64()
}

// spread is a per-node pseudo-random key for partition p: a node ranks
// partitions by it, so different nodes prefer different partitions and a
// node's picks scatter over the ring. SplitMix64's finaliser: integer-only,
// the same on every platform.
func spread(seed uint64, p int, salt uint64) uint64 {
	x := seed ^ salt ^ (uint64(p)+1)*0x9e3779b97f4a7c15
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// Counts returns how many replicas each member holds, zero included.
func (t Table) Counts() map[string]int {
	counts := make(map[string]int, len(t.Members))
	for _, m := range t.Members {
		counts[m.ID] = 0
	}
	for _, ids := range t.Replicas {
		for _, id := range ids {
			counts[id]++
		}
	}
	return counts
}

// Preference returns partition p's replicas in preference order: the N
// primaries of every key in p. The slice is shared; do not modify it.
func (t Table) Preference(p uint32) []string { return t.Replicas[p] }

// Fallbacks returns the owners that are not primaries of p, in the order a
// sloppy quorum tries them: walking the ring from p+1, the replicas of each
// partition not already listed, then any owner holding no replica at all, by
// id. Different partitions thus fall back to different nodes, spreading the
// hints of a down node.
func (t Table) Fallbacks(p uint32) []string {
	want := len(t.Members) - len(t.Replicas[p])
	if want <= 0 {
		return nil
	}
	out := make([]string, 0, want)
	listed := make(map[string]bool, len(t.Members))
	for _, id := range t.Replicas[p] {
		listed[id] = true
	}
	q := len(t.Replicas)
	for i := 1; i < q && len(out) < want; i++ {
		for _, id := range t.Replicas[(int(p)+i)%q] {
			if !listed[id] {
				listed[id] = true
				out = append(out, id)
			}
		}
	}
	for _, m := range t.Members {
		if len(out) == want {
			break
		}
		if !listed[m.ID] {
			listed[m.ID] = true
			out = append(out, m.ID)
		}
	}
	return out
}

// Holds returns the partitions id holds a replica of, ascending.
func (t Table) Holds(id string) []uint32 {
	var out []uint32
	for p, ids := range t.Replicas {
		if slices.Contains(ids, id) {
			out = append(out, uint32(p))
		}
	}
	return out
}

// Moved counts the replicas placed in b that a did not have there: for each
// partition, the members of b's replica set missing from a's. It is the
// number of partition copies a change from a to b has to transfer.
func Moved(a, b Table) int {
	moved := 0
	for p := range b.Replicas {
		for _, id := range b.Replicas[p] {
			if p >= len(a.Replicas) || !slices.Contains(a.Replicas[p], id) {
				moved++
			}
		}
	}
	return moved
}

// Stand-in is a fallback node keeping hints for a down owner.
type StandIn struct {
	Node, For string
}

// Route is where requests for one partition go under sloppy quorum.
type Route struct {
	// Owners are the partition's live owners, in preference order.
	Owners []string
	// StandIns are fallbacks for down owners: for each down owner, the next
	// live node on the ring that holds no replica of the partition.
	StandIns []StandIn
	// Uncovered are down owners no fallback is left for (a cluster no
	// larger than N).
	Uncovered []string
	// Pending are live members that take the partition's writes while
	// their handoff runs, but neither serve reads nor count toward W (see
	// Plan).
	Pending []string
	// Rebuilding are live members of the partition receiving it again
	// after they lost their data (see Plan): they take its writes, which
	// count toward W since they store them in their own slot, but serve no
	// reads until the partition is theirs again. Preference order, after
	// Owners.
	Rebuilding []string
}

// Route computes where requests for partition p go, given which nodes are
// alive. With sloppy false, down owners are simply left out.
func (t Table) Route(p uint32, alive func(node string) bool, sloppy bool) Route {
	var r Route
	var down []string
	for _, id := range t.Preference(p) {
		if alive(id) {
			r.Owners = append(r.Owners, id)
		} else {
			down = append(down, id)
		}
	}
	if !sloppy {
		return r
	}
	r.StandIns, r.Uncovered = cover(down, t.Fallbacks(p), alive)
	return r
}

// cover gives each down owner the next live fallback, in order; the owners
// left without one are uncovered.
func cover(down, fallbacks []string, alive func(string) bool) (standIns []StandIn, uncovered []string) {
	for _, owner := range down {
		covered := false
		for len(fallbacks) > 0 && !covered {
			fb := fallbacks[0]
			fallbacks = fallbacks[1:]
			if alive(fb) {
				standIns = append(standIns, StandIn{Node: fb, For: owner})
				covered = true
			}
		}
		if !covered {
			uncovered = append(uncovered, owner)
		}
	}
	return standIns, uncovered
}
