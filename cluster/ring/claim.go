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
)

func (k EventKind) String() string {
	switch k {
	case Join:
		return "join"
	case Remove:
		return "remove"
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

// node is a member as the claimer tracks it.
type node struct {
	id     string
	zone   int32
	alive  bool
	seed   uint64 // hash of id: the root of the node's pseudo-random orders
	load   int    // replicas held
	target frac   // fair share
	held   []uint64

	// Scratch for one join, when the node is a victim: how far along the
	// newcomer's order it was tried, and whether nothing is left to take.
	cursor int
	done   bool
}

func (nd *node) holds(p int) bool { return nd.held[p>>6]&(1<<(p&63)) != 0 }

// claimer is the table being built by replay. Partition p's replicas are
// slots[p*n : p*n+width], in no particular order; table() orders them.
type claimer struct {
	q, n      int
	width     int // replicas per partition: min(n, live)
	slots     []int32
	nodes     []node
	byID      map[string]int32
	zoneIdx   map[string]int32
	zoneNames []string
	zoneSize  []int // live members per zone
	zones     int   // zones with live members
	live      int
	keys      []uint64 // the joining node's rank of each partition (orderFor)
	order     []int32  // the partitions in the joining node's order
	packed    []uint64
	buckets   []int32 // scratch of orderFor
	share     []frac  // scratch of setTargets, per zone
	zoneOrder []int   // scratch of setTargets

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
	return &claimer{q: q, n: n, slots: make([]int32, q*n), byID: map[string]int32{}, zoneIdx: map[string]int32{}, keys: make([]uint64, q)}
}

func (c *claimer) apply(e Event) {
	switch e.Kind {
	case Join:
		c.join(e.Member)
	case Remove:
		c.remove(e.Member.ID)
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
	f.held[p>>6] &^= 1 << (p & 63)
	t.held[p>>6] |= 1 << (p & 63)
	f.load--
	t.load++
}

func (c *claimer) join(m Member) {
	if i, ok := c.byID[m.ID]; ok && c.nodes[i].alive {
		if c.zoneNames[c.nodes[i].zone] == m.Zone {
			return
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
	nd := node{id: m.ID, zone: z, alive: true, seed: hashID(m.ID), held: make([]uint64, (c.q+63)/64)}
	id, ok := c.byID[m.ID]
	if ok {
		c.nodes[id] = nd
	} else {
		id = int32(len(c.nodes))
		c.byID[m.ID] = id
		c.nodes = append(c.nodes, nd)
	}
	wasDiverse := c.diverse()
	if c.zoneSize[z] == 0 {
		c.zones++
	}
	c.zoneSize[z]++
	c.live++

	if c.live <= c.n {
		// Fewer members than replicas: every member holds every partition.
		for p := 0; p < c.q; p++ {
			c.slots[p*c.n+c.width] = id
			c.nodes[id].held[p>>6] |= 1 << (p & 63)
			if c.watch != nil {
				c.watch.added(p, id)
			}
		}
		c.nodes[id].load = c.q
		c.width++
		return
	}
	c.setTargets()
	c.orderFor(id)
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

// orderFor computes m's pseudo-random order over the partitions. A
// partition's rank is spread(m, p) with its low bits replaced by p, so ranks
// are unique; the order is by rank. Ranks are uniform, so a counting sort on
// their top bits followed by insertion sort within the (tiny) buckets sorts
// them in linear time; a comparison sort here would dominate a join's cost.
func (c *claimer) orderFor(m int32) {
	seed := c.nodes[m].seed
	low := uint(bits.Len(uint(c.q - 1)))
	mask := uint64(1)<<low - 1
	shift := 64 - low // top bits: as many buckets as partitions (rounded up)
	if low == 0 {
		shift = 63
	}
	buckets := slices.Grow(c.buckets[:0], 1<<(64-shift)+1)[:1<<(64-shift)+1]
	clear(buckets)
	c.buckets = buckets
	for p := range c.keys {
		c.keys[p] = spread(seed, p, saltSteal)&^mask | uint64(p)
		buckets[c.keys[p]>>shift+1]++
	}
	for i := 1; i < len(buckets); i++ {
		buckets[i] += buckets[i-1]
	}
	packed := slices.Grow(c.packed[:0], c.q)[:c.q]
	for _, k := range c.keys {
		b := k >> shift
		packed[buckets[b]] = k
		buckets[b]++
	}
	for i := 1; i < len(packed); i++ {
		for j := i; j > 0 && packed[j] < packed[j-1]; j-- {
			packed[j], packed[j-1] = packed[j-1], packed[j]
		}
	}
	c.order = c.order[:0]
	for _, k := range packed {
		c.order = append(c.order, int32(k&mask))
	}
	c.packed = packed
}

// stealRepairs lets the newcomer m, whose join brought the zone count to n,
// take (in its own partition order) replicas whose zone is repeated in their
// partition, where the move improves balance. Each spares repair() a move
// between other members.
func (c *claimer) stealRepairs(m int32) {
	var order []int
	for p := 0; p < c.q; p++ {
		if c.violated(p) {
			order = append(order, p)
		}
	}
	if len(order) == 0 {
		return
	}
	slices.SortFunc(order, func(a, b int) int { return cmp.Compare(c.keys[a], c.keys[b]) })
	zm := c.nodes[m].zone
	for _, p := range order {
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
// fair share, while that narrows the spread of loads.
func (c *claimer) steal(m int32) {
	for i := range c.nodes {
		c.nodes[i].done, c.nodes[i].cursor = false, 0
	}
	for {
		best := int32(-1)
		for i := range c.nodes {
			v := int32(i)
			nd := &c.nodes[i]
			if v == m || !nd.alive || nd.done {
				continue
			}
			if best < 0 || c.excess(best).less(c.excess(v)) {
				best = v
			}
		}
		if best < 0 || !c.improves(best, m) {
			return
		}
		if p, ok := c.nextSteal(best, m); ok {
			c.move(p, best, m)
		} else {
			c.nodes[best].done = true
		}
	}
}

// nextSteal returns the first partition, in m's order, that m may take from
// v. Whether m may take p from v only ever changes from yes to no during a
// join (m taking p from anyone makes it no), so a cursor per victim over m's
// order suffices; it advances about q/S places per replica taken.
func (c *claimer) nextSteal(v, m int32) (int, bool) {
	nd, mn := &c.nodes[v], &c.nodes[m]
	diverse := c.diverse()
	for nd.cursor < len(c.order) {
		p := int(c.order[nd.cursor])
		nd.cursor++
		if !nd.holds(p) || mn.holds(p) {
			continue
		}
		if diverse && nd.zone != mn.zone && c.zoneTaken(p, mn.zone, v) {
			continue
		}
		return p, true
	}
	return 0, false
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
