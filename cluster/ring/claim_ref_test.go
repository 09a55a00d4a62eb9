package ring

import (
	"cmp"
	"fmt"
	"slices"
	"testing"

	"github.com/dhtkv/dht/test/testutil"
)

// refClaimer replays a history like claimer, but a join picks its victims
// and their partitions the plain way, as Claim did before steal used heaps,
// queues and lazy orders: it ranks every partition in the newcomer's order,
// scans every member for the one furthest above its share before each
// replica taken, and walks the newcomer's whole order from the start for
// each victim. It shares the rest (admission, targets, removals, repair).
// Claim is part of the protocol between nodes, so the fast selection must
// match it move for move, not just in its final table.
type refClaimer struct {
	*claimer
	order  []int    // the newcomer's partitions in its order
	rank   []uint64 // the newcomer's rank of each partition
	cursor []int    // per member, how far along order it was tried
	done   []bool   // per member, whether nothing is left to take
}

func newRefClaimer(q, n int) *refClaimer { return &refClaimer{claimer: newClaimer(q, n)} }

func (r *refClaimer) apply(e Event) {
	switch e.Kind {
	case Join:
		r.join(e.Member)
	case Remove:
		r.remove(e.Member.ID)
	}
}

func (r *refClaimer) join(m Member) {
	id, wasDiverse, placed := r.admit(m)
	if placed {
		return
	}
	r.setTargets()
	r.orderFor(id)
	transition := !wasDiverse && r.diverse()
	if transition {
		r.stealRepairs(id)
	}
	r.steal(id)
	if transition {
		r.repair()
	}
}

func (r *refClaimer) orderFor(m int32) {
	r.rank = make([]uint64, r.q)
	r.order = make([]int, r.q)
	for p := range r.rank {
		r.rank[p] = r.stealRank(r.nodes[m].seed, p)
		r.order[p] = p
	}
	slices.SortFunc(r.order, func(a, b int) int { return cmp.Compare(r.rank[a], r.rank[b]) })
}

func (r *refClaimer) stealRepairs(m int32) {
	var order []int
	for p := 0; p < r.q; p++ {
		if r.violated(p) {
			order = append(order, p)
		}
	}
	slices.SortFunc(order, func(a, b int) int { return cmp.Compare(r.rank[a], r.rank[b]) })
	zm := r.nodes[m].zone
	for _, p := range order {
		if r.zoneTaken(p, zm, -1) {
			continue
		}
		victim := int32(-1)
		for _, v := range r.replicas(p) {
			if r.zoneRepeated(p, v) && (victim < 0 || r.excess(victim).less(r.excess(v))) {
				victim = v
			}
		}
		if r.improves(victim, m) {
			r.move(p, victim, m)
		}
	}
}

func (r *refClaimer) steal(m int32) {
	r.cursor = make([]int, len(r.nodes))
	r.done = make([]bool, len(r.nodes))
	for {
		best := int32(-1)
		for i := range r.nodes {
			v := int32(i)
			if v == m || !r.nodes[i].alive || r.done[i] {
				continue
			}
			if best < 0 || r.excess(best).less(r.excess(v)) {
				best = v
			}
		}
		if best < 0 || !r.improves(best, m) {
			return
		}
		if p, ok := r.nextSteal(best, m); ok {
			r.move(p, best, m)
		} else {
			r.done[best] = true
		}
	}
}

func (r *refClaimer) nextSteal(v, m int32) (int, bool) {
	nd, mn := &r.nodes[v], &r.nodes[m]
	for r.cursor[v] < len(r.order) {
		p := r.order[r.cursor[v]]
		r.cursor[v]++
		if !nd.holds(p) || mn.holds(p) {
			continue
		}
		if r.diverse() && nd.zone != mn.zone && r.zoneTaken(p, mn.zone, v) {
			continue
		}
		return p, true
	}
	return 0, false
}

// changeLog records a claimer's changes to replica sets, in order.
type changeLog struct {
	c   *claimer
	log []string
}

func (l *changeLog) added(p int, v int32) {
	l.log = append(l.log, fmt.Sprintf("add %d %s", p, l.c.nodes[v].id))
}

func (l *changeLog) moved(p int, from, to int32) {
	l.log = append(l.log, fmt.Sprintf("move %d %s→%s", p, l.c.nodes[from].id, l.c.nodes[to].id))
}

func (l *changeLog) dropped(p int, v int32) {
	l.log = append(l.log, fmt.Sprintf("drop %d %s", p, l.c.nodes[v].id))
}

// matchReference replays history with claimer and refClaimer side by side
// and fails at the first event after which they made different changes.
// It reports how many joins took each of steal's paths.
func matchReference(t *testing.T, q, n int, history []Event) (walked, ranked int) {
	t.Helper()
	fast, ref := newClaimer(q, n), newRefClaimer(q, n)
	fastLog, refLog := &changeLog{c: fast}, &changeLog{c: ref.claimer}
	fast.watch, ref.watch = fastLog, refLog
	for i, e := range history {
		fastLog.log, refLog.log = fastLog.log[:0], refLog.log[:0]
		fast.walk = false
		live := fast.live
		fast.apply(e)
		ref.apply(e)
		if !slices.Equal(fastLog.log, refLog.log) {
			t.Fatalf("q=%d n=%d, event %d (%v %v): changes differ from the reference\n got  %v\n want %v", q, n, i, e.Kind, e.Member, fastLog.log, refLog.log)
		}
		if !slices.Equal(fast.slots, ref.slots) {
			t.Fatalf("q=%d n=%d, event %d (%v %v): replica slots differ from the reference", q, n, i, e.Kind, e.Member)
		}
		if e.Kind == Join && fast.live > live && fast.live > n {
			if fast.walk {
				walked++
			} else {
				ranked++
			}
		}
	}
	return walked, ranked
}

// TestClaim_MatchesReference checks the fast victim and partition selection
// against refClaimer on random histories: joins, rejoins, zone changes and
// removals, with q from 1 up (not only powers of two), several n and zone
// counts, and enough members that joins take both of steal's paths.
func TestClaim_MatchesReference(t *testing.T) {
	t.Parallel()
	rng := testutil.Rand(t)
	var walked, ranked int
	for trial := range 40 {
		q := []int{1, 3, 16, 64, 100, 256}[rng.IntN(6)]
		n := 1 + rng.IntN(5)
		zones := 1 + rng.IntN(7)
		pool := 20 + rng.IntN(100)
		var history []Event
		live := map[string]string{} // id → zone
		for v := uint64(1); v <= 150; v++ {
			var e Event
			switch r := rng.IntN(10); {
			case r < 7 || len(live) == 0:
				e = Event{Kind: Join, Member: Member{ID: fmt.Sprintf("m%d", rng.IntN(pool)), Zone: fmt.Sprintf("z%d", rng.IntN(zones))}}
				live[e.Member.ID] = e.Member.Zone
			default:
				ids := make([]string, 0, len(live))
				for id := range live {
					ids = append(ids, id)
				}
				slices.Sort(ids)
				id := ids[rng.IntN(len(ids))]
				e = Event{Kind: Remove, Member: Member{ID: id, Zone: live[id]}}
				delete(live, id)
			}
			e.Version = v
			history = append(history, e)
		}
		t.Run(fmt.Sprintf("trial%d", trial), func(t *testing.T) {
			w, r := matchReference(t, q, n, history)
			walked, ranked = walked+w, ranked+r
		})
	}
	// The histories are random: make sure they kept covering both paths.
	if walked < 100 || ranked < 100 {
		t.Errorf("joins walking the newcomer's order: %d, ranking the victims' partitions: %d; want both often", walked, ranked)
	}
}

// TestClaim_MatchesReferenceLarge does the same for the sizes of the
// benchmarks, where joins move from one path to the other as members come.
func TestClaim_MatchesReferenceLarge(t *testing.T) {
	if testing.Short() {
		t.Skip("replays hundreds of joins with the reference")
	}
	t.Parallel()
	for _, tt := range []struct{ q, n, s, zones int }{
		{4096, 3, 1000, 5}, // the size of BenchmarkClaim_1000Nodes_Q4096
		{1024, 3, 400, 5},
		{1024, 3, 300, 0},
		{512, 3, 200, 3},
		{256, 2, 150, 7},
	} {
		history := joins(tt.s, tt.zones)
		for i := 7; i < len(history); i += 13 {
			history = slices.Insert(history, i, Event{Kind: Remove, Member: history[i/2].Member})
		}
		for i := range history {
			history[i].Version = uint64(i + 1)
		}
		walked, ranked := matchReference(t, tt.q, tt.n, history)
		if walked == 0 || ranked == 0 {
			t.Errorf("q=%d n=%d s=%d: joins walking %d, ranking %d; want both", tt.q, tt.n, tt.s, walked, ranked)
		}
	}
}
