package ring

import (
	"fmt"
	"reflect"
	"slices"
	"testing"

	"github.com/dhtkv/dht/test/testutil"
)

// TestState_ForgetHandoffsKeepsThePlan drives two copies of one cluster
// through the same random joins, decommissions, rejoins, data losses and
// finished transfers (some, or all): one never prunes, the other prunes
// whenever its plan is settled. At every step both route every partition
// alike (serving and pending members, stand-ins included, live or with the
// removed members down), keep the same copies (Needs), and ask for the
// same transfers from the same sources. The pruning is, by case, the
// forgetting of every removed member's records (ForgetHandoffs), the
// settled register (SettleHandoffs), or both.
func TestState_ForgetHandoffsKeepsThePlan(t *testing.T) {
	forget := func(s State) State {
		for _, m := range s.Members {
			if m.Removed() {
				s = s.ForgetHandoffs(m.ID)
			}
		}
		return s
	}
	for _, tc := range []struct {
		name  string
		prune func(State) State
	}{
		{"removed members", forget},
		{"settled register", State.SettleHandoffs},
		{"both", func(s State) State { return forget(s).SettleHandoffs() }},
	} {
		t.Run(tc.name, func(t *testing.T) { prunedKeepsThePlan(t, tc.prune) })
	}
}

func prunedKeepsThePlan(t *testing.T, prune func(State) State) {
	const q, n = 32, 3
	rng := testutil.Rand(t)
	forgotten := 0
	for run := range 40 {
		full := settle(q, n, joinAll(State{}, "a", "b", "c", "d"))
		pruned := full
		next := 0
		for step := range 30 {
			owners := full.Owners()
			switch op := rng.IntN(10); {
			case op < 3:
				next++
				id := fmt.Sprintf("j%d", next)
				if rng.IntN(3) == 0 { // a removed member comes back
					for _, m := range pruned.Members { // one whose entry is kept
						if m.Removed() {
							id = m.ID
							break
						}
					}
				}
				full, pruned = full.Join(Member{ID: id}), pruned.Join(Member{ID: id})
			case op < 5 && len(owners) > n+1:
				id := owners[rng.IntN(len(owners))].ID
				full, pruned = full.Remove(id), pruned.Remove(id)
			case op < 6:
				id := owners[rng.IntN(len(owners))].ID
				full, pruned = full.MarkRebuild(id), pruned.MarkRebuild(id)
			case op < 8:
				// Some transfers finish.
				pl := NewPlan(q, n, full)
				for _, m := range pl.Table.Members {
					for _, tr := range pl.Transfers(m.ID) {
						if rng.IntN(2) == 0 {
							full = full.CompleteHandoff(m.ID, tr.Partition, tr.Since)
							pruned = pruned.CompleteHandoff(m.ID, tr.Partition, tr.Since)
						}
					}
				}
			default:
				full = settle(q, n, full)
				pruned = settle(q, n, pruned)
			}
			if NewPlan(q, n, pruned).Settled() {
				before := len(pruned.Handoffs)
				pruned = prune(pruned)
				forgotten += before - len(pruned.Handoffs)
			}
			if err := pruned.Validate(); err != nil {
				t.Fatalf("run %d step %d: pruned state invalid: %v", run, step, err)
			}
			samePlan(t, fmt.Sprintf("run %d step %d", run, step), q, n, full, pruned)
		}
	}
	if forgotten == 0 {
		t.Fatal("no handoff record was ever forgotten: the test did not exercise pruning")
	}
	t.Logf("%d handoff records forgotten", forgotten)
}

// samePlan fails unless full and pruned route alike and plan the same
// transfers.
func samePlan(t *testing.T, where string, q, n int, full, pruned State) {
	t.Helper()
	a, b := NewPlan(q, n, full), NewPlan(q, n, pruned)
	if !reflect.DeepEqual(a.Table, b.Table) {
		t.Fatalf("%s: tables differ", where)
	}
	removedDown := func(id string) bool {
		return !full.Members[slices.IndexFunc(full.Members, func(m MemberState) bool { return m.ID == id })].Removed()
	}
	for p := range q {
		for _, alive := range []func(string) bool{everyoneAlive, removedDown} {
			sa, pa := a.Serving(uint32(p), alive)
			sb, pb := b.Serving(uint32(p), alive)
			if !slices.Equal(sa, sb) || !slices.Equal(pa, pb) {
				t.Fatalf("%s: partition %d: serving %v pending %v unpruned, %v and %v pruned", where, p, sa, pa, sb, pb)
			}
		}
		for i := range a.Slots[p] {
			if a.Slots[p][i].Ready() != b.Slots[p][i].Ready() || a.Slots[p][i].Received != b.Slots[p][i].Received {
				t.Fatalf("%s: partition %d slot %d: %+v unpruned, %+v pruned", where, p, i, a.Slots[p][i], b.Slots[p][i])
			}
		}
	}
	for _, m := range full.Members {
		if ta, tb := a.Transfers(m.ID), b.Transfers(m.ID); !reflect.DeepEqual(ta, tb) {
			t.Fatalf("%s: transfers of %s: %+v unpruned, %+v pruned", where, m.ID, ta, tb)
		}
		for p := range q {
			if a.Needs(m.ID, uint32(p)) != b.Needs(m.ID, uint32(p)) {
				t.Fatalf("%s: partition %d: %s needs it %v unpruned, %v pruned", where, p, m.ID, a.Needs(m.ID, uint32(p)), b.Needs(m.ID, uint32(p)))
			}
		}
	}
}

// TestState_ForgottenHandoffsStayForgotten: a peer that still holds a
// forgotten member's records cannot bring them back, in any merge order;
// merging stays commutative, associative and idempotent; a late
// completion of a forgotten placement changes nothing; and the member's
// records of a later span are kept.
func TestState_ForgottenHandoffsStayForgotten(t *testing.T) {
	const q, n = 16, 3
	old := settle(q, n, joinAll(State{}, "a", "b", "c", "d"))
	old = settle(q, n, old.Remove("d"))
	pruned := old.ForgetHandoffs("d")
	if !slices.ContainsFunc(old.Handoffs, func(h Handoff) bool { return h.Member == "d" }) {
		t.Fatal("the removed member has no records to forget: the test is vacuous")
	}
	if slices.ContainsFunc(pruned.Handoffs, func(h Handoff) bool { return h.Member == "d" }) {
		t.Fatalf("ForgetHandoffs kept d's records: %v", pruned.Handoffs)
	}
	if pruned.Version() != old.Version() || pruned.OwnershipDigest() != old.OwnershipDigest() {
		t.Fatal("forgetting records changed the ownership's version or digest")
	}
	if pruned.Digest() == old.Digest() {
		t.Fatal("forgetting records left the digest alone: gossip would not spread it")
	}
	other := old.Join(Member{ID: "e"})
	for _, s := range []State{Merge(pruned, old), Merge(old, pruned), Merge(Merge(old, other), pruned), Merge(old, Merge(other, pruned))} {
		if slices.ContainsFunc(s.Handoffs, func(h Handoff) bool { return h.Member == "d" }) {
			t.Fatalf("a merge brought d's forgotten records back: %v", s.Handoffs)
		}
		if err := s.Validate(); err != nil {
			t.Fatal(err)
		}
	}
	if !reflect.DeepEqual(Merge(Merge(old, other), pruned), Merge(old, Merge(other, pruned))) ||
		!reflect.DeepEqual(Merge(pruned, old), Merge(old, pruned)) || !reflect.DeepEqual(Merge(pruned, pruned), pruned) {
		t.Fatal("merge laws broken by forgotten records")
	}
	smuggled := pruned
	smuggled.Handoffs = append([]Handoff(nil), old.Handoffs...)
	if smuggled.Validate() == nil {
		t.Fatal("Validate accepted a state holding records it has forgotten")
	}
	if late := pruned.CompleteHandoff("d", 0, 1); !reflect.DeepEqual(late, pruned) {
		t.Fatal("a late record of a forgotten placement was kept")
	}
	// d comes back: its new placements are later than the horizon, and
	// their records are kept and count.
	back := settle(q, n, pruned.Join(Member{ID: "d"}))
	if !slices.ContainsFunc(back.Handoffs, func(h Handoff) bool { return h.Member == "d" }) || !NewPlan(q, n, back).Settled() {
		t.Fatal("the rejoined member's new records were dropped")
	}
	// Forgetting an owner, or a member never seen, changes nothing.
	if !reflect.DeepEqual(pruned.ForgetHandoffs("a"), pruned) || !reflect.DeepEqual(pruned.ForgetHandoffs("zz"), pruned) {
		t.Fatal("ForgetHandoffs changed a state for an owner or a stranger")
	}
}

// TestState_SettledHandoffsStayForgotten: the settled register drops every
// record at or below it and counts the placements it covers as received;
// a peer that still holds the records cannot bring them back, in any merge
// order; a late completion at or below it changes nothing; the records of
// later placements are kept and needed; and Validate refuses records it
// covers and a register past the state's latest change.
func TestState_SettledHandoffsStayForgotten(t *testing.T) {
	const q, n = 16, 3
	old := settle(q, n, joinAll(State{}, "a", "b", "c", "d"))
	if len(old.Handoffs) == 0 {
		t.Fatal("the settled cluster has no records: the test is vacuous")
	}
	settled := old.SettleHandoffs()
	if len(settled.Handoffs) != 0 || settled.HandoffsSettled != old.Clock() {
		t.Fatalf("SettleHandoffs kept %d records, register %d (clock %d)", len(settled.Handoffs), settled.HandoffsSettled, old.Clock())
	}
	if !NewPlan(q, n, settled).Settled() {
		t.Fatal("the settled register does not count the placements it covers as received")
	}
	if settled.Version() != old.Version() || settled.OwnershipDigest() != old.OwnershipDigest() || settled.Clock() != old.Clock() {
		t.Fatal("settling records changed the ownership's version, digest or clock")
	}
	if settled.Digest() == old.Digest() {
		t.Fatal("settling records left the digest alone: gossip would not spread it")
	}
	if again := settled.SettleHandoffs(); !reflect.DeepEqual(again, settled) {
		t.Fatal("SettleHandoffs is not idempotent")
	}
	other := old.Join(Member{ID: "e"})
	for _, s := range []State{Merge(settled, old), Merge(old, settled), Merge(Merge(old, other), settled), Merge(old, Merge(other, settled))} {
		if slices.ContainsFunc(s.Handoffs, func(h Handoff) bool { return h.Since <= settled.HandoffsSettled }) {
			t.Fatalf("a merge brought settled records back: %v", s.Handoffs)
		}
		if err := s.Validate(); err != nil {
			t.Fatal(err)
		}
	}
	if late := settled.CompleteHandoff("d", 0, settled.HandoffsSettled); !reflect.DeepEqual(late, settled) {
		t.Fatal("a late record at the register was kept")
	}
	// A join after the register: its placements need transfers, and their
	// records are kept.
	grown := settled.Join(Member{ID: "e"})
	if NewPlan(q, n, grown).Settled() {
		t.Fatal("a join after the register counts as received")
	}
	grown = settle(q, n, grown)
	if !slices.ContainsFunc(grown.Handoffs, func(h Handoff) bool { return h.Member == "e" }) || !NewPlan(q, n, grown).Settled() {
		t.Fatal("the records of placements after the register were dropped")
	}
	// The same for a loss after the register.
	lost := settled.MarkRebuild("a")
	if NewPlan(q, n, lost).Rebuilding("a") == 0 {
		t.Fatal("a loss after the register counts as received again")
	}
	smuggled := settled
	smuggled.Handoffs = slices.Clone(old.Handoffs)
	if smuggled.Validate() == nil {
		t.Fatal("Validate accepted records the settled register covers")
	}
	ahead := settled
	ahead.HandoffsSettled = settled.Clock() + 1
	if ahead.Validate() == nil {
		t.Fatal("Validate accepted a register past the state's latest change: it would count a placement not made yet as received")
	}
	// An outsider's gossip cannot settle anything (Admit keeps only its
	// own entry and records).
	if got := old.Admit("stranger", settled); got.HandoffsSettled != 0 {
		t.Fatalf("a non-member's register was admitted: %d", got.HandoffsSettled)
	}
}

// TestState_MergeDropsLateChanges: changes at or below a settled
// register that the state carrying it does not know were made on an
// older ring or a stale clock, after the cluster settled without them;
// replayed below the register their placements would count as received
// (the hazard, shown first for a join). Merge drops each kind: a first
// join, a rejoin, a zone change, a removal and a loss, in either order of
// the arguments; made again above the register, each is kept and needs
// its transfers.
func TestState_MergeDropsLateChanges(t *testing.T) {
	const q, n = 16, 3
	base := settle(q, n, joinAll(State{}, "a", "b", "c", "d", "e"))
	base = settle(q, n, base.Remove("e"))
	// The concurrent change the cluster settled: f joins.
	cluster := settle(q, n, base.Join(Member{ID: "f"})).SettleHandoffs()
	for _, tc := range []struct {
		name string
		late State // base with a change stamped from base's clock
		id   string
		// again makes the change again on the merged state.
		again func(State) State
	}{
		{"first join", base.Join(Member{ID: "x"}), "x", func(s State) State { return s.Join(Member{ID: "x"}) }},
		{"rejoin", base.Join(Member{ID: "e"}), "e", func(s State) State { return s.Join(Member{ID: "e"}) }},
		{"zone change", base.Join(Member{ID: "a", Zone: "z2"}), "a", func(s State) State { return s.Join(Member{ID: "a", Zone: "z2"}) }},
		{"removal", base.Remove("b"), "b", func(s State) State { return s.Remove("b") }},
		{"loss", base.MarkRebuild("c"), "c", func(s State) State { return s.MarkRebuild("c") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.late.Clock() > cluster.HandoffsSettled {
				t.Fatal("the change is not below the register: the test is vacuous")
			}
			for _, merged := range []State{Merge(cluster, tc.late), Merge(tc.late, cluster)} {
				if !reflect.DeepEqual(merged.Members, cluster.Members) {
					t.Fatalf("the late change was kept:\n got %+v\nwant %+v", merged.Members, cluster.Members)
				}
				if merged.KnowsChangesOf(tc.late) {
					t.Fatal("KnowsChangesOf misses the dropped change")
				}
				if err := merged.Validate(); err != nil {
					t.Fatal(err)
				}
			}
			again := tc.again(Merge(tc.late, cluster))
			if again.Clock() <= cluster.HandoffsSettled {
				t.Fatalf("made again at %d, not above the register %d", again.Clock(), cluster.HandoffsSettled)
			}
			kept := Merge(cluster, again)
			if !kept.KnowsChangesOf(again) {
				t.Fatal("the change made again above the register was dropped")
			}
			if NewPlan(q, n, kept).Settled() {
				t.Fatal("the change made again needs no transfer: its placements count as received")
			}
		})
	}

	// The hazard: were the late join kept, its placements would count as
	// received, with no transfer.
	late := base.Join(Member{ID: "x"})
	unguarded := cluster
	unguarded.Members = mergeMembers(cluster.Members, late.Members)
	if len(NewPlan(q, n, unguarded).Transfers("x")) != 0 {
		t.Fatal("kept, the late join already needs transfers: the hazard the guard is for is not there")
	}

	// Kept: changes the settled state knows, changes above the register,
	// and everything when no side has a register.
	known := settle(q, n, cluster.Join(Member{ID: "y"}))
	for name, tc := range map[string]struct{ a, b State }{
		"known to the settled state": {known.SettleHandoffs(), known},
		"above the register":         {cluster, cluster.Join(Member{ID: "z"}).MarkRebuild("a")},
		"no register":                {late, settle(q, n, base.Join(Member{ID: "f"}))},
	} {
		if m := Merge(tc.a, tc.b); !m.KnowsChangesOf(tc.a) || !m.KnowsChangesOf(tc.b) {
			t.Errorf("%s: a change was dropped", name)
		}
	}
}
