package ring

import (
	"slices"
)

// maxReplaces bounds the chain of earlier holders a slot remembers. A chain
// stops at the first holder that had received the partition, so it only
// grows when ownership changes again and again before any transfer
// finishes; past the bound the oldest holders are forgotten.
const maxReplaces = 8

// Slot is one replica of a partition in a Plan: the member claim placed
// there and what routing needs to know about its data.
type Slot struct {
	// Node is the member claim placed in the slot.
	Node string
	// Since is the ring version (Lamport time) of the event that placed it.
	Since uint64
	// Received is set when Node holds the partition's data: a handoff
	// record or the settled register (State.HandoffsSettled) covers the
	// placement, or the partition had no replicas at all
	// when Node was placed (the cluster's first member). Either way, only
	// since Node last lost its data (see Lost).
	Received bool
	// Lost is Node's RebuildVersion when Node announced after this
	// placement that it had lost its data, 0 otherwise. Whatever the
	// placement received before is gone: the slot must be received again,
	// and its handoff record must be at least as recent as Lost.
	Lost uint64
	// Replaces lists the earlier holders of the slot, most recent first: the
	// member Node took it from, the one that member took it from, and so on
	// back to the first that had received the partition. Empty when Node
	// was added to the partition without replacing anyone (a cluster of at
	// most N members grows every partition).
	Replaces []Holder
}

// Holder is an earlier holder of a slot.
type Holder struct {
	Node     string
	Received bool
}

// Ready reports whether the slot's own member serves reads: it has
// received the data, or it was an addition (the members it joins still hold
// every key it lacks, and read quorums overlap them). A member that lost
// its data is not ready until it has received it again: its empty answers
// would otherwise count toward R as if they were the key's state.
func (s Slot) Ready() bool { return s.Received || (len(s.Replaces) == 0 && s.Lost == 0) }

// Rebuilding reports whether the slot's member lost its data and is
// receiving the partition again.
func (s Slot) Rebuilding() bool { return s.Lost != 0 && !s.Received }

// need is the least handoff version that covers the slot: the placement's,
// or the member's data loss when that came after.
func (s Slot) need() uint64 { return max(s.Since, s.Lost) }

// Plan is the ownership picture of a State while handoffs are in flight:
// the claimed table, and for each replica whether its member has received
// the partition yet and whom it replaced. Requests are routed by it: a
// replica that has not received its data is written to but not read from,
// and the holder it replaces keeps serving in its place until the transfer
// is done. Treat a Plan as read-only.
type Plan struct {
	Table Table
	// Slots[p] lists partition p's replicas in Table.Replicas[p]'s order.
	Slots [][]Slot
	// removed holds the members the state records as removed, owner
	// those it records as owners; compacted is set when the state has a
	// base, which drops the entries of members removed before it.
	removed   map[string]bool
	owner     map[string]bool
	compacted bool
}

// NewPlan computes the plan of s for q partitions and n replicas: it
// replays s's history like Claim, following each placement, and marks the
// placements s's handoff records cover. q is the count the ring started
// with; a base's count, which a resize sets, overrides it.
func NewPlan(q, n int, s State) Plan {
	q = s.Partitions(q)
	events := s.History()
	c := newClaimerAt(q, n, s.Base)
	w := &planWatcher{c: c, state: s, parts: make([][]placement, q)}
	if s.Base != nil {
		// Every placement the base holds was made at or below the settled
		// register: each counts as received, and none replaces anyone.
		for p := range q {
			for _, v := range c.replicas(p) {
				w.parts[p] = append(w.parts[p], placement{node: v, since: s.Base.Version})
			}
		}
	}
	c.watch = w
	for _, e := range events {
		w.version = e.Version
		c.apply(e)
	}
	pl := Plan{Table: c.table(), Slots: make([][]Slot, q), removed: map[string]bool{}, compacted: s.Base != nil, owner: map[string]bool{}}
	for _, m := range s.Members {
		if m.removed() {
			pl.removed[m.ID] = true
		} else {
			pl.owner[m.ID] = true
		}
	}
	for p, ids := range pl.Table.Replicas {
		row := make([]Slot, len(ids))
		for i, id := range ids {
			pm := w.find(p, c.byID[id])
			slot := Slot{Node: id, Since: pm.since, Received: w.holds(p, pm)}
			handedOver := false
			if lost := s.RebuildVersion(id); lost > pm.since {
				slot.Lost = lost
				// Had the member received the placement before it lost
				// its data, the holders it replaced handed the partition
				// over then and have dropped their copies since: they
				// can neither stand in for it nor send it the data again.
				// The slot's other replicas do both.
				handedOver = w.received(p, pm)
			}
			for _, l := range pm.chain {
				if handedOver {
					break
				}
				slot.Replaces = append(slot.Replaces, Holder{Node: c.nodes[l.node].id, Received: l.received})
			}
			row[i] = slot
		}
		pl.Slots[p] = row
	}
	return pl
}

// placement is a member's replica of a partition as replay made it.
type placement struct {
	node  int32
	since uint64
	// root is set for a member added to a partition that had no replicas.
	root  bool
	chain []link
}

type link struct {
	node     int32
	received bool
}

type planWatcher struct {
	c       *claimer
	state   State
	version uint64
	parts   [][]placement
}

// holds reports whether pm's member holds partition p's data now: the
// placement was a root (the partition's first replica) or a handoff record
// covers it, and in either case the member has not lost its data since, or
// has received the partition again after the loss. A record covers a
// placement, and so does the settled register (State.HandoffsSettled).
func (w *planWatcher) holds(p int, pm placement) bool {
	id := w.c.nodes[pm.node].id
	lost := w.state.RebuildVersion(id)
	if lost > pm.since {
		return w.state.covered(id, uint32(p), lost)
	}
	return pm.root || w.state.covered(id, uint32(p), pm.since)
}

// received reports whether pm's member received partition p's data for
// the placement at some point, whether or not it lost it since.
func (w *planWatcher) received(p int, pm placement) bool {
	return pm.root || w.state.covered(w.c.nodes[pm.node].id, uint32(p), pm.since)
}

func (w *planWatcher) find(p int, v int32) placement {
	for _, pm := range w.parts[p] {
		if pm.node == v {
			return pm
		}
	}
	return placement{node: v}
}

func (w *planWatcher) take(p int, v int32) placement {
	for i, pm := range w.parts[p] {
		if pm.node == v {
			w.parts[p] = slices.Delete(w.parts[p], i, i+1)
			return pm
		}
	}
	return placement{node: v}
}

func (w *planWatcher) added(p int, v int32) {
	w.parts[p] = append(w.parts[p], placement{node: v, since: w.version, root: len(w.parts[p]) == 0})
}

func (w *planWatcher) moved(p int, from, to int32) {
	prev := w.take(p, from)
	got := w.holds(p, prev)
	chain := []link{{node: from, received: got}}
	if !got && !w.received(p, prev) {
		// from never got the data: whoever it replaced still holds it.
		// (One that got it and lost it since ends the chain: those it
		// replaced handed the partition over then and dropped it.)
		chain = append(chain, prev.chain...)
		if len(chain) > maxReplaces {
			chain = chain[:maxReplaces]
		}
	}
	w.parts[p] = append(w.parts[p], placement{node: to, since: w.version, chain: chain})
}

func (w *planWatcher) dropped(p int, v int32) { w.take(p, v) }

// Removed reports whether the state records node as removed, or, when a
// base dropped the entries of members removed before it, has no entry of
// node that owns replicas.
func (pl Plan) Removed(node string) bool {
	return pl.removed[node] || (pl.compacted && !pl.owner[node])
}

// standIn returns who serves reads for a slot whose member has not received
// its data: the most recent earlier holder that had, unless it was removed
// and is down (force-removed: gone for good). A decommissioned holder keeps
// serving until its successors have the data.
func (pl Plan) standIn(s Slot, alive func(string) bool, taken []string) (string, bool) {
	for _, h := range s.Replaces {
		if !h.Received || slices.Contains(taken, h.Node) || (pl.removed[h.Node] && !alive(h.Node)) {
			continue
		}
		return h.Node, true
	}
	return "", false
}

// Serving returns the members that serve partition p's reads and
// coordinate its writes, in preference order: each slot's member when it
// is ready, else the earlier holder standing in for it; and, as Pending, the
// members that are not ready yet but already take p's writes, so that they
// miss nothing while their transfer runs.
func (pl Plan) Serving(p uint32, alive func(string) bool) (serving, pending []string) {
	slots := pl.Slots[p]
	// A stand-in must not be a member serving its own slot too.
	taken := make([]string, 0, 2*len(slots))
	for _, s := range slots {
		if s.Ready() {
			taken = append(taken, s.Node)
		}
	}
	// Slot order is kept: it spreads coordination over the members.
	serving = make([]string, 0, len(slots))
	for _, s := range slots {
		if s.Ready() {
			serving = append(serving, s.Node)
			continue
		}
		if in, ok := pl.standIn(s, alive, taken); ok {
			taken = append(taken, in)
			serving = append(serving, in)
			pending = append(pending, s.Node)
		} else {
			serving = append(serving, s.Node)
		}
	}
	return serving, pending
}

// Route computes where requests for partition p go, given which nodes are
// alive: Table.Route over the serving members, with fallbacks that are
// neither serving nor pending, plus the live pending members.
func (pl Plan) Route(p uint32, alive func(string) bool, sloppy bool) Route {
	serving, pending := pl.Serving(p, alive)
	var r Route
	var down []string
	for _, id := range serving {
		switch {
		case !alive(id):
			down = append(down, id)
		case pl.rebuilding(p, id):
			r.Rebuilding = append(r.Rebuilding, id)
		default:
			r.Owners = append(r.Owners, id)
		}
	}
	for _, id := range pending {
		if alive(id) {
			r.Pending = append(r.Pending, id)
		}
	}
	if !sloppy {
		return r
	}
	var fallbacks []string
	for _, id := range pl.Table.Fallbacks(p) {
		if !slices.Contains(serving, id) && !slices.Contains(pending, id) {
			fallbacks = append(fallbacks, id)
		}
	}
	r.StandIns, r.Uncovered = cover(down, fallbacks, alive)
	return r
}

// rebuilding reports whether node's slot of partition p is being received
// again after node lost its data. Route asks it of the serving members: one
// that serves its own slot while rebuilding has no stand-in (a stand-in
// never lost its data, or it would not hold any), so the other replicas
// serve the reads, and it takes the writes so that it misses nothing
// meanwhile.
func (pl Plan) rebuilding(p uint32, node string) bool {
	s, ok := pl.slotOf(p, node)
	return ok && s.Rebuilding()
}

// ReadyAt reports whether node's own copy of partition p holds the data
// (Slot.Ready); true when node is not one of p's replicas, or p is out of
// range: a read gate has nothing of its own to close then.
func (pl Plan) ReadyAt(p uint32, node string) bool {
	if int(p) >= len(pl.Slots) {
		return true
	}
	s, ok := pl.slotOf(p, node)
	return !ok || s.Ready()
}

// slotOf returns node's slot in partition p, if it has one.
func (pl Plan) slotOf(p uint32, node string) (Slot, bool) {
	for _, s := range pl.Slots[p] {
		if s.Node == node {
			return s, true
		}
	}
	return Slot{}, false
}

// Rebuilding counts the slots node is receiving again after losing its
// data.
func (pl Plan) Rebuilding(node string) int {
	n := 0
	for _, slots := range pl.Slots {
		for _, s := range slots {
			if s.Node == node && s.Rebuilding() {
				n++
			}
		}
	}
	return n
}

// Transfer is a partition a member must receive.
type Transfer struct {
	Partition uint32
	// Since is the version the member records with State.CompleteHandoff
	// once the transfer is done: the placement's, or the member's data loss
	// when that came after.
	Since uint64
	// Rebuild is set when the member receives the partition again because
	// it lost its data.
	Rebuild bool
	// Sources are the members that hold the data, best first: the holders
	// the member replaces, then the partition's other received replicas;
	// when none is received, the other replicas that serve reads. Empty
	// when nobody does (the member has every key there is).
	Sources []string
}

// Transfers returns the partitions node must receive: its placements that
// no handoff record covers yet, in partition order.
func (pl Plan) Transfers(node string) []Transfer {
	var out []Transfer
	for p, slots := range pl.Slots {
		for _, s := range slots {
			if s.Node != node || s.Received {
				continue
			}
			t := Transfer{Partition: uint32(p), Since: s.need(), Rebuild: s.Rebuilding()}
			for _, h := range s.Replaces {
				if h.Received && !slices.Contains(t.Sources, h.Node) {
					t.Sources = append(t.Sources, h.Node)
				}
			}
			for _, o := range slots {
				if o.Node != node && o.Received && !slices.Contains(t.Sources, o.Node) {
					t.Sources = append(t.Sources, o.Node)
				}
			}
			if len(t.Sources) == 0 {
				// No copy is known complete: the only one was lost (its
				// holder wiped before the other replicas' first transfers
				// were recorded). Replicas that serve reads hold every
				// write since their placement: pull from them rather than
				// take the empty partition for the whole of it.
				for _, o := range slots {
					if o.Node != node && o.Ready() {
						t.Sources = append(t.Sources, o.Node)
					}
				}
			}
			out = append(out, t)
		}
	}
	return out
}

// Needs reports whether node has a part in partition p: it is one of its
// slots' members or stands in for one. A node that holds data of a
// partition it has no part in hands the data to the serving members and
// drops it.
func (pl Plan) Needs(node string, p uint32) bool {
	for _, s := range pl.Slots[p] {
		if s.Node == node {
			return true
		}
		// Every earlier holder that has the data counts, not only the one
		// standing in now: keeping a copy a little longer is safe, dropping
		// one still needed is not.
		if !s.Ready() && slices.ContainsFunc(s.Replaces, func(h Holder) bool { return h.Received && h.Node == node }) {
			return true
		}
	}
	return false
}

// Settled reports whether every replica of every partition has its data:
// no transfer is left and nobody stands in for anyone.
func (pl Plan) Settled() bool {
	for _, slots := range pl.Slots {
		for _, s := range slots {
			if !s.Received {
				return false
			}
		}
	}
	return true
}

// Involved reports whether node has a part in any partition (see Needs).
// A decommissioned node leaves the cluster once it has none and holds no
// data.
func (pl Plan) Involved(node string) bool {
	for p := range pl.Slots {
		if pl.Needs(node, uint32(p)) {
			return true
		}
	}
	return false
}
