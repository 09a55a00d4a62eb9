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
// finished transfers (some, or all): one never prunes, the other forgets
// every removed member's handoff records whenever its plan is settled. At
// every step both route every partition alike (serving and pending
// members, stand-ins included, live or with the removed members down) and
// ask for the same transfers from the same sources.
func TestState_ForgetHandoffsKeepsThePlan(t *testing.T) {
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
					for _, m := range full.Members {
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
				for _, m := range pruned.Members {
					if m.Removed() {
						before := len(pruned.Handoffs)
						pruned = pruned.ForgetHandoffs(m.ID)
						forgotten += before - len(pruned.Handoffs)
					}
				}
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
	for _, m := range a.Table.Members {
		if ta, tb := a.Transfers(m.ID), b.Transfers(m.ID); !reflect.DeepEqual(ta, tb) {
			t.Fatalf("%s: transfers of %s: %+v unpruned, %+v pruned", where, m.ID, ta, tb)
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
