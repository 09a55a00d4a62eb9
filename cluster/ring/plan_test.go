package ring

import (
	"reflect"
	"slices"
	"testing"
)

func everyoneAlive(string) bool { return true }

// settle records every transfer of every member as done, as the members'
// handoff actors would once their transfers finish.
func settle(q, n int, s State) State {
	pl := NewPlan(q, n, s)
	for _, m := range pl.Table.Members {
		for _, t := range pl.Transfers(m.ID) {
			s = s.CompleteHandoff(m.ID, t.Partition, t.Since)
		}
	}
	return s
}

func joinAll(s State, ids ...string) State {
	for _, id := range ids {
		s = s.Join(Member{ID: id})
	}
	return s
}

// checkServing asserts the invariants of Serving for every partition: as
// many distinct serving members as the table has replicas, pending members
// are slot members that are not ready, and Needs agrees.
func checkServing(t *testing.T, pl Plan, alive func(string) bool) {
	t.Helper()
	for p := range pl.Slots {
		serving, pending := pl.Serving(uint32(p), alive)
		if len(serving) != len(pl.Table.Replicas[p]) {
			t.Fatalf("partition %d: %d serving %v, want %d", p, len(serving), serving, len(pl.Table.Replicas[p]))
		}
		if len(slices.Compact(slices.Sorted(slices.Values(serving)))) != len(serving) {
			t.Fatalf("partition %d: serving repeats a member: %v", p, serving)
		}
		for _, id := range pending {
			if !slices.Contains(pl.Table.Replicas[p], id) || slices.Contains(serving, id) {
				t.Fatalf("partition %d: pending %s is not a non-serving slot member (serving %v)", p, id, serving)
			}
		}
		for _, id := range append(slices.Clone(serving), pending...) {
			if !pl.Needs(id, uint32(p)) {
				t.Fatalf("partition %d: %s serves or is pending but Needs says no", p, id)
			}
		}
	}
}

func TestPlan_TableIsClaim(t *testing.T) {
	s := joinAll(State{}, "a", "b", "c", "d", "e")
	s = s.Remove("c")
	pl := NewPlan(64, 3, s)
	if want := Claim(64, 3, s.History()); !reflect.DeepEqual(pl.Table, want) {
		t.Fatal("the plan's table differs from Claim of the same history")
	}
}

func TestPlan_FirstMembers(t *testing.T) {
	const q, n = 32, 3
	s := joinAll(State{}, "a", "b", "c")
	pl := NewPlan(q, n, s)
	if got := pl.Transfers("a"); len(got) != 0 {
		t.Fatalf("the first member has nothing to receive, got %d transfers", len(got))
	}
	for _, id := range []string{"b", "c"} {
		ts := pl.Transfers(id)
		if len(ts) != q {
			t.Fatalf("%s: %d transfers, want one per partition (%d)", id, len(ts), q)
		}
		if ts[0].Sources[0] != "a" {
			t.Fatalf("%s: sources %v, want a first (the only member that has the data)", id, ts[0].Sources)
		}
	}
	// Additions serve at once: quorums overlap the members they joined.
	for p := range pl.Slots {
		serving, pending := pl.Serving(uint32(p), everyoneAlive)
		if len(pending) != 0 || len(serving) != 3 {
			t.Fatalf("partition %d: serving %v pending %v, want all three serving", p, serving, pending)
		}
	}
	if pl.Settled() {
		t.Fatal("settled before b and c received anything")
	}
	if !NewPlan(q, n, settle(q, n, s)).Settled() {
		t.Fatal("not settled after every transfer completed")
	}
}

func TestPlan_JoinKeepsReplacedHolderServing(t *testing.T) {
	const q, n = 64, 3
	s := settle(q, n, joinAll(State{}, "a", "b", "c"))
	before := NewPlan(q, n, s).Table
	s = s.Join(Member{ID: "d"})
	pl := NewPlan(q, n, s)
	checkServing(t, pl, everyoneAlive)

	ts := pl.Transfers("d")
	if len(ts) == 0 {
		t.Fatal("d joined but has nothing to receive")
	}
	for _, tr := range ts {
		p := tr.Partition
		serving, pending := pl.Serving(p, everyoneAlive)
		if !slices.Equal(slices.Sorted(slices.Values(serving)), slices.Sorted(slices.Values(before.Replicas[p]))) {
			t.Fatalf("partition %d: serving %v while d receives, want the old replicas %v", p, serving, before.Replicas[p])
		}
		if !slices.Equal(pending, []string{"d"}) {
			t.Fatalf("partition %d: pending %v, want [d]", p, pending)
		}
		replaced := tr.Sources[0]
		if slices.Contains(pl.Table.Replicas[p], replaced) {
			t.Fatalf("partition %d: first source %s is still a replica; want the member d replaced", p, replaced)
		}
		if !pl.Needs(replaced, p) {
			t.Fatalf("partition %d: the replaced holder %s is not needed while d receives", p, replaced)
		}
	}
	// The transfers finish one by one: each partition switches on its own.
	first := ts[0]
	s = s.CompleteHandoff("d", first.Partition, first.Since)
	pl = NewPlan(q, n, s)
	checkServing(t, pl, everyoneAlive)
	serving, pending := pl.Serving(first.Partition, everyoneAlive)
	if !slices.Contains(serving, "d") || len(pending) != 0 {
		t.Fatalf("after its transfer: serving %v pending %v, want d serving", serving, pending)
	}
	if pl.Needs(first.Sources[0], first.Partition) {
		t.Fatalf("the replaced holder %s still needed after d received partition %d", first.Sources[0], first.Partition)
	}
	if got := len(pl.Transfers("d")); got != len(ts)-1 {
		t.Fatalf("%d transfers left, want %d", got, len(ts)-1)
	}
}

func TestPlan_Decommission(t *testing.T) {
	const q, n = 64, 3
	s := settle(q, n, joinAll(State{}, "a", "b", "c", "d"))
	s = s.Remove("d")
	pl := NewPlan(q, n, s)
	checkServing(t, pl, everyoneAlive)
	if !pl.Involved("d") {
		t.Fatal("a decommissioned node is not involved while its heirs receive")
	}
	for p := range pl.Slots {
		if slices.Contains(pl.Table.Replicas[p], "d") {
			t.Fatalf("partition %d: d still a replica after removal", p)
		}
	}
	// d is down: a removed node that is down is gone for good, and its heirs
	// serve although they are still receiving.
	dDown := func(id string) bool { return id != "d" }
	for p := range pl.Slots {
		serving, _ := pl.Serving(uint32(p), dDown)
		if slices.Contains(serving, "d") {
			t.Fatalf("partition %d: force-removed d still serving: %v", p, serving)
		}
	}
	s = settle(q, n, s)
	if pl := NewPlan(q, n, s); pl.Involved("d") {
		t.Fatal("d still involved after its heirs received everything")
	}
}

func TestPlan_ChainOfUnfinishedHandoffs(t *testing.T) {
	const q, n = 128, 3
	s := settle(q, n, joinAll(State{}, "a", "b", "c"))
	s = s.Join(Member{ID: "d"}) // d receives nothing before e joins
	s = s.Join(Member{ID: "e"})
	pl := NewPlan(q, n, s)
	checkServing(t, pl, everyoneAlive)
	chained := 0
	for p, slots := range pl.Slots {
		for _, sl := range slots {
			if sl.Node != "e" || len(sl.Replaces) < 2 || sl.Replaces[0].Node != "d" {
				continue
			}
			chained++
			// e took the slot from d, which had not received it: the holder
			// d replaced stands in.
			serving, _ := pl.Serving(uint32(p), everyoneAlive)
			if slices.Contains(serving, "d") || slices.Contains(serving, "e") || !slices.Contains(serving, sl.Replaces[1].Node) {
				t.Fatalf("partition %d: serving %v; want %s standing in for e (d never had the data)", p, serving, sl.Replaces[1].Node)
			}
		}
	}
	if chained == 0 {
		t.Fatal("no slot passed from d to e; the test does not exercise chains")
	}
}

func TestPlan_RouteAddsPendingAndSkipsThemAsFallbacks(t *testing.T) {
	const q, n = 64, 3
	s := settle(q, n, joinAll(State{}, "a", "b", "c", "d"))
	s = s.Join(Member{ID: "e"})
	pl := NewPlan(q, n, s)
	tr := pl.Transfers("e")[0]
	r := pl.Route(tr.Partition, everyoneAlive, true)
	if !slices.Equal(r.Pending, []string{"e"}) || slices.Contains(r.Owners, "e") {
		t.Fatalf("route %+v: want e pending, not an owner", r)
	}
	down := r.Owners[0]
	r = pl.Route(tr.Partition, func(id string) bool { return id != down }, true)
	for _, si := range r.StandIns {
		if si.Node == "e" {
			t.Fatalf("pending e chosen as a fallback for %s: it already takes the writes", si.For)
		}
	}
	if len(r.StandIns) != 1 {
		t.Fatalf("route %+v: want one fallback for %s", r, down)
	}
}

func TestState_HandoffMerge(t *testing.T) {
	a := joinAll(State{}, "a", "b").CompleteHandoff("b", 3, 2).CompleteHandoff("a", 1, 1)
	b := joinAll(State{}, "a", "b").CompleteHandoff("b", 3, 5).CompleteHandoff("b", 0, 2)
	ab, ba := Merge(a, b), Merge(b, a)
	if !reflect.DeepEqual(ab, ba) {
		t.Fatalf("merge not commutative:\n%+v\n%+v", ab, ba)
	}
	if !reflect.DeepEqual(Merge(ab, ab), ab) || !reflect.DeepEqual(Merge(ab, a), ab) {
		t.Fatal("merge not idempotent")
	}
	if err := ab.Validate(); err != nil {
		t.Fatal(err)
	}
	want := []Handoff{{"a", 1, 1}, {"b", 0, 2}, {"b", 3, 5}}
	if !slices.Equal(ab.Handoffs, want) {
		t.Fatalf("handoffs %v, want %v", ab.Handoffs, want)
	}
	if ab.Digest() == Merge(a, joinAll(State{}, "a", "b")).Digest() {
		t.Fatal("digest ignores handoff records")
	}
	if got := ab.CompleteHandoff("b", 3, 4); !reflect.DeepEqual(got, ab) {
		t.Fatal("an older record changed the state")
	}
	if ab.Clock() != joinAll(State{}, "a", "b").Clock() {
		t.Fatal("handoff records changed the ownership clock")
	}
}

func TestState_ValidateHandoffs(t *testing.T) {
	base := joinAll(State{}, "a")
	for name, hs := range map[string][]Handoff{
		"empty member": {{"", 0, 1}},
		"since zero":   {{"a", 0, 0}},
		"unsorted":     {{"a", 2, 1}, {"a", 1, 1}},
		"repeated":     {{"a", 1, 1}, {"a", 1, 2}},
	} {
		s := State{Members: base.Members, Handoffs: hs}
		if err := s.Validate(); err == nil {
			t.Errorf("%s: Validate accepted %v", name, hs)
		}
		// Merge canonicalises what Validate refuses for order.
		if name == "unsorted" || name == "repeated" {
			if err := Merge(s, State{}).Validate(); err != nil {
				t.Errorf("%s: merged state invalid: %v", name, err)
			}
		}
	}
}

// TestPlan_GrowAndShrink walks 3 → 5 → 3 members with every transfer done
// between steps, checking the serving invariants at each point and that a
// settled plan serves exactly the table.
func TestPlan_GrowAndShrink(t *testing.T) {
	const q, n = 256, 3
	s := settle(q, n, joinAll(State{}, "n1", "n2", "n3"))
	for i, step := range []func(State) State{
		func(s State) State { return s.Join(Member{ID: "n4"}) },
		func(s State) State { return s.Join(Member{ID: "n5"}) },
		func(s State) State { return s.Remove("n1") },
		func(s State) State { return s.Remove("n2") },
	} {
		s = step(s)
		checkServing(t, NewPlan(q, n, s), everyoneAlive)
		s = settle(q, n, s)
		pl := NewPlan(q, n, s)
		if !pl.Settled() {
			t.Fatalf("step %d: not settled after all transfers", i)
		}
		for p := range pl.Slots {
			serving, pending := pl.Serving(uint32(p), everyoneAlive)
			if len(pending) != 0 || !slices.Equal(serving, pl.Table.Replicas[p]) {
				t.Fatalf("step %d partition %d: settled plan serves %v pending %v, want the table's %v", i, p, serving, pending, pl.Table.Replicas[p])
			}
		}
	}
	if pl := NewPlan(q, n, s); pl.Involved("n1") || pl.Involved("n2") {
		t.Fatal("removed members still involved at the end")
	}
}

// TestPlan_RejoinMovesOnlyTheRejoiner removes a member, lets its heirs
// receive everything, and joins it again: only its new placements need a
// transfer, and every other replica keeps its data and its records. (Before
// the state kept earlier spans, a rejoin replayed as a first join and moved
// replicas between the other members too.)
func TestPlan_RejoinMovesOnlyTheRejoiner(t *testing.T) {
	const q, n = 128, 3
	s := settle(q, n, joinAll(State{}, "a", "b", "c", "d", "e"))
	s = settle(q, n, s.Remove("c"))
	before := NewPlan(q, n, s).Table
	s = s.Join(Member{ID: "c"})
	pl := NewPlan(q, n, s)
	for p, slots := range pl.Slots {
		for _, sl := range slots {
			if sl.Node != "c" && !sl.Received {
				t.Fatalf("partition %d: %s lost its data record when c rejoined", p, sl.Node)
			}
		}
	}
	moved := Moved(before, pl.Table)
	if got := len(pl.Transfers("c")); got != moved {
		t.Fatalf("c must receive %d partitions, but %d replicas moved", got, moved)
	}
	if fair := n * q / 5; moved > fair*5/4 {
		t.Fatalf("the rejoin moved %d replicas, more than 1.25× c's fair share %d", moved, fair)
	}
	t.Logf("rejoin of c moved %d replicas (fair share %d)", moved, n*q/5)
}

// A member that lost its data (a wiped disk) must receive every partition it
// holds again before it serves reads: until then the other replicas serve
// them, it takes the writes, and the transfers it needs are recorded at the
// loss's version, so older handoff records do not cover them.
func TestPlan_RebuildAfterDataLoss(t *testing.T) {
	const q, n = 32, 3
	s := settle(q, n, joinAll(State{}, "a", "b", "c"))
	settled := NewPlan(q, n, s)
	if !settled.Settled() || len(settled.Transfers("b")) != 0 {
		t.Fatal("the starting ring is not settled")
	}

	s = s.MarkRebuild("b")
	lost := s.RebuildVersion("b")
	for p, slots := range settled.Slots {
		for _, sl := range slots {
			if sl.Since >= lost {
				t.Fatalf("partition %d: rebuild version %d is not after %s's placement at %d", p, lost, sl.Node, sl.Since)
			}
		}
	}
	pl := NewPlan(q, n, s)
	if pl.Settled() {
		t.Fatal("a ring with a member rebuilding reports itself settled")
	}
	if got := pl.Rebuilding("b"); got != q {
		t.Fatalf("b rebuilds %d partitions, want every one of the %d it holds", got, q)
	}
	if pl.Rebuilding("a") != 0 || len(pl.Transfers("a")) != 0 {
		t.Fatal("a lost nothing but has something to receive")
	}
	ts := pl.Transfers("b")
	if len(ts) != q {
		t.Fatalf("b has %d transfers, want %d", len(ts), q)
	}
	for _, tr := range ts {
		if !tr.Rebuild || tr.Since != lost {
			t.Fatalf("partition %d: transfer %+v, want a rebuild recorded at the loss's version %d", tr.Partition, tr, lost)
		}
		if slices.Contains(tr.Sources, "b") || len(tr.Sources) != 2 {
			t.Fatalf("partition %d: sources %v, want the two other replicas", tr.Partition, tr.Sources)
		}
		r := pl.Route(tr.Partition, everyoneAlive, true)
		if slices.Contains(r.Owners, "b") || !slices.Equal(r.Rebuilding, []string{"b"}) || len(r.Pending) != 0 {
			t.Fatalf("partition %d: route %+v, want b rebuilding: no owner for reads, not pending", tr.Partition, r)
		}
		if len(r.Owners) != 2 || len(r.StandIns) != 0 {
			t.Fatalf("partition %d: route %+v, want the two other replicas as owners and no fallback", tr.Partition, r)
		}
		if !pl.Needs("b", tr.Partition) {
			t.Fatalf("partition %d: b is not needed while it rebuilds it", tr.Partition)
		}
	}

	// A handoff record at the placement's old version does not cover the
	// loss; one at the loss's version does, partition by partition.
	first := ts[0]
	old := settled.Slots[first.Partition]
	for _, sl := range old {
		if sl.Node == "b" {
			if NewPlan(q, n, s.CompleteHandoff("b", first.Partition, sl.Since)).Rebuilding("b") != q {
				t.Fatal("a handoff record older than the loss ended the rebuild")
			}
		}
	}
	s = s.CompleteHandoff("b", first.Partition, first.Since)
	pl = NewPlan(q, n, s)
	if got := pl.Rebuilding("b"); got != q-1 {
		t.Fatalf("after one partition is received again b rebuilds %d, want %d", got, q-1)
	}
	if r := pl.Route(first.Partition, everyoneAlive, true); !slices.Contains(r.Owners, "b") || len(r.Rebuilding) != 0 {
		t.Fatalf("route %+v after the rebuild of partition %d: want b an owner again", r, first.Partition)
	}
	for _, tr := range ts[1:] {
		s = s.CompleteHandoff("b", tr.Partition, tr.Since)
	}
	if pl = NewPlan(q, n, s); !pl.Settled() || pl.Rebuilding("b") != 0 {
		t.Fatal("every partition received again, but the ring is not settled")
	}
	// The ownership itself never moved.
	if !slices.EqualFunc(pl.Table.Replicas, settled.Table.Replicas, slices.Equal) {
		t.Fatal("a rebuild changed the partition table")
	}
}

// A member that lost its data is no source for another member's transfer:
// it holds nothing it received before the loss.
func TestPlan_RebuildingMemberIsNoSource(t *testing.T) {
	const q, n = 32, 3
	s := settle(q, n, joinAll(State{}, "a", "b", "c", "d"))
	s = s.MarkRebuild("b")
	s = s.Join(Member{ID: "e"})
	pl := NewPlan(q, n, s)
	for _, tr := range pl.Transfers("e") {
		if slices.Contains(tr.Sources, "b") {
			t.Fatalf("partition %d: e would pull from b, which lost its data: sources %v", tr.Partition, tr.Sources)
		}
	}
	checkServing(t, pl, everyoneAlive)
}

// The rebuild mark is part of the CRDT: it merges as a max-register, a join
// keeps it, and it changes the digest (nodes that differ in it gossip).
func TestState_RebuildMarkMerges(t *testing.T) {
	s := joinAll(State{}, "a", "b", "c")
	marked := s.MarkRebuild("b")
	if marked.RebuildVersion("b") == 0 || s.RebuildVersion("b") != 0 {
		t.Fatal("MarkRebuild did not mark b, or changed its receiver")
	}
	if marked.Digest() == s.Digest() {
		t.Fatal("the rebuild mark does not change the digest")
	}
	if marked.Version() <= s.Version() {
		t.Fatalf("version %d after the mark, %d before: the mark must raise it", marked.Version(), s.Version())
	}
	for _, m := range []State{Merge(s, marked), Merge(marked, s), Merge(marked, Merge(s, marked))} {
		if !reflect.DeepEqual(m, marked) {
			t.Fatalf("merge %+v, want %+v", m, marked)
		}
	}
	again := marked.MarkRebuild("b")
	if again.RebuildVersion("b") <= marked.RebuildVersion("b") || Merge(marked, again).RebuildVersion("b") != again.RebuildVersion("b") {
		t.Fatal("a second loss does not supersede the first")
	}
	if moved := marked.Join(Member{ID: "b", Zone: "z2"}); moved.RebuildVersion("b") != marked.RebuildVersion("b") {
		t.Fatal("a zone change dropped the rebuild mark")
	}
	if err := marked.Validate(); err != nil {
		t.Fatal(err)
	}
	if removed := s.Remove("c").MarkRebuild("c"); removed.RebuildVersion("c") != 0 {
		t.Fatal("a removed member was marked to rebuild")
	}
	if got := s.MarkRebuild("zz"); !reflect.DeepEqual(got, s) {
		t.Fatal("marking an unknown member changed the state")
	}
}

// In a ring larger than N a member's slots mostly replaced earlier holders
// in its join. Once it had received them, those holders dropped their
// copies; if it then loses its data, they must neither stand in for it nor
// be the rebuild's sources (a pull from one would "rebuild" nothing, and
// reads routed to one would find nothing). The slot's other replicas serve
// and send it the data. A member that loses its data before its join's
// transfer finished still has its earlier holder, which kept the copy.
func TestPlan_RebuildAfterDataLossIgnoresHoldersThatHandedOver(t *testing.T) {
	const q, n = 32, 3
	var s State
	for _, id := range []string{"a", "b", "c", "d", "e"} {
		s = settle(q, n, s.Join(Member{ID: id}))
	}
	replaced := 0
	for _, slots := range NewPlan(q, n, s).Slots {
		for _, sl := range slots {
			if sl.Node == "e" && len(sl.Replaces) > 0 {
				replaced++
			}
		}
	}
	if replaced == 0 {
		t.Fatal("e replaced nobody in its join: the test needs slots with earlier holders")
	}

	pl := NewPlan(q, n, s.MarkRebuild("e"))
	ts := pl.Transfers("e")
	if len(ts) == 0 {
		t.Fatal("e lost its data but has nothing to receive")
	}
	for _, tr := range ts {
		var others []string
		for _, sl := range pl.Slots[tr.Partition] {
			if sl.Node != "e" {
				others = append(others, sl.Node)
			}
		}
		if !tr.Rebuild || len(tr.Sources) != len(others) {
			t.Fatalf("partition %d: transfer %+v, want a rebuild from the slot's other replicas %v", tr.Partition, tr, others)
		}
		for _, src := range tr.Sources {
			if !slices.Contains(others, src) {
				t.Fatalf("partition %d: source %s is not one of the slot's other replicas %v (an earlier holder that dropped its copy?)", tr.Partition, src, others)
			}
		}
		r := pl.Route(tr.Partition, everyoneAlive, true)
		if !slices.Equal(r.Rebuilding, []string{"e"}) || len(r.Pending) != 0 || len(r.StandIns) != 0 {
			t.Fatalf("partition %d: route %+v, want e rebuilding, nobody standing in for it", tr.Partition, r)
		}
		if len(r.Owners) != len(others) || slices.Contains(r.Owners, "e") {
			t.Fatalf("partition %d: owners %v, want the slot's other replicas %v", tr.Partition, r.Owners, others)
		}
	}

	// f joins and loses its data before any transfer of its join ran: the
	// holders it replaces still hold the partitions and still serve.
	s = s.Join(Member{ID: "f"})
	pl = NewPlan(q, n, s.MarkRebuild("f"))
	midJoin := 0
	for _, tr := range pl.Transfers("f") {
		for _, sl := range pl.Slots[tr.Partition] {
			if sl.Node != "f" || len(sl.Replaces) == 0 {
				continue
			}
			midJoin++
			if tr.Sources[0] != sl.Replaces[0].Node {
				t.Fatalf("partition %d: sources %v, want the holder f replaces (%s) first: it still has the data", tr.Partition, tr.Sources, sl.Replaces[0].Node)
			}
			r := pl.Route(tr.Partition, everyoneAlive, true)
			if !slices.Contains(r.Owners, sl.Replaces[0].Node) {
				t.Fatalf("partition %d: owners %v, want %s standing in for f", tr.Partition, r.Owners, sl.Replaces[0].Node)
			}
		}
	}
	if midJoin == 0 {
		t.Fatal("f replaced nobody in its join")
	}
}

// TestPlan_RootLosesItsDataBeforeTheOthersReceived: the first member is
// the only one whose copies are known complete (root placements) until
// the others' first transfers are recorded. Wiped before that, it must
// still pull every partition from the replicas that serve reads (they hold
// every write since they joined), not take its empty storage for the
// whole of each partition.
func TestPlan_RootLosesItsDataBeforeTheOthersReceived(t *testing.T) {
	const q, n = 16, 3
	s := State{}.Join(Member{ID: "a"}).Join(Member{ID: "b"}).Join(Member{ID: "c"})
	pl := NewPlan(q, n, s.MarkRebuild("a"))
	ts := pl.Transfers("a")
	if len(ts) != q {
		t.Fatalf("a lost its data: %d partitions to receive, want %d", len(ts), q)
	}
	for _, tr := range ts {
		if !tr.Rebuild || len(tr.Sources) == 0 {
			t.Fatalf("partition %d: transfer %+v, want a rebuild with sources (b and c serve reads)", tr.Partition, tr)
		}
		for _, src := range tr.Sources {
			if src == "a" {
				t.Fatalf("partition %d: a is its own source: %+v", tr.Partition, tr)
			}
		}
	}
}

// TestPlan_HolderThatLostItsDataEndsTheChain: d replaced earlier holders,
// received its partitions (they handed over and dropped their copies),
// then lost its data. A new member taking partitions from d must not count
// on those earlier holders as stand-ins or sources: the chain ends at d,
// and the partition's other replicas provide the data.
func TestPlan_HolderThatLostItsDataEndsTheChain(t *testing.T) {
	const q, n = 64, 3
	s := settle(q, n, joinAll(State{}, "a", "b", "c", "d"))
	s = s.MarkRebuild("d").Join(Member{ID: "e"})
	pl := NewPlan(q, n, s)
	found := 0
	for p, row := range pl.Slots {
		for _, slot := range row {
			if slot.Node != "e" || len(slot.Replaces) == 0 || slot.Replaces[0].Node != "d" {
				continue
			}
			found++
			if len(slot.Replaces) != 1 {
				t.Fatalf("partition %d: e replaces %+v: the chain goes past d, which had received and lost the data", p, slot.Replaces)
			}
		}
	}
	if found == 0 {
		t.Fatal("e took no partition from d: the test is vacuous")
	}
	checkServing(t, pl, everyoneAlive)
}
