package ring

import (
	"fmt"
	"reflect"
	"slices"
	"testing"

	"github.com/dhtkv/dht/test/testutil"
)

// TestState_CompactKeepsThePlan: the compacted copy of a cluster routes,
// keeps copies and transfers as the copy that keeps its whole history,
// through the same random joins, decommissions, rejoins (of members whose
// entries it kept), losses and transfers, compacting whenever its plan
// settles (prunedKeepsThePlan).
func TestState_CompactKeepsThePlan(t *testing.T) {
	const q, n = 32, 3
	dropped, bases := 0, 0
	prunedKeepsThePlan(t, func(s State) State {
		c := s.SettleHandoffs().Compact(q, n)
		if c.Base != s.Base {
			bases++
			dropped += len(s.Members) - len(c.Members)
			if c.Version() != s.Version() || c.Clock() != s.Clock() {
				t.Fatalf("compacting changed the version (%d, was %d) or clock (%d, was %d)", c.Version(), s.Version(), c.Clock(), s.Clock())
			}
			if !reflect.DeepEqual(c.Owners(), s.Owners()) {
				t.Fatalf("compacting changed the owners: %v, was %v", c.Owners(), s.Owners())
			}
		}
		return c
	})
	if bases == 0 || dropped == 0 {
		t.Fatalf("%d bases taken, %d entries dropped: the test did not exercise compaction", bases, dropped)
	}
	t.Logf("%d bases taken, %d removed members' entries dropped", bases, dropped)
}

// TestState_CompactKeepsTheTableWithZones: with zones, zone changes and
// members replaced, a state compacted at random settled points computes
// the table the whole history does, at once and after every later change
// that does not bring back a member or zone the base dropped; and the
// compacted state validates and converges with the whole one by Merge.
func TestState_CompactKeepsTheTableWithZones(t *testing.T) {
	const q, n = 64, 3
	rng := testutil.Rand(t)
	bases := 0
	for run := range 30 {
		full := joinAll(State{}, "a", "b", "c")
		compact := full
		next, nextZone := 0, 3
		for step := range 40 {
			where := fmt.Sprintf("run %d step %d", run, step)
			// A zone still in use, or one never seen.
			zone := func() string {
				if rng.IntN(4) == 0 {
					nextZone++
					return fmt.Sprintf("z%d", nextZone)
				}
				owners := compact.Owners()
				return owners[rng.IntN(len(owners))].Zone
			}
			owners := compact.Owners()
			switch op := rng.IntN(10); {
			case op < 4:
				next++
				m := Member{ID: fmt.Sprintf("m%d", next), Zone: zone()}
				full, compact = full.Join(m), compact.Join(m)
			case op < 6 && len(owners) > n:
				id := owners[rng.IntN(len(owners))].ID
				full, compact = full.Remove(id), compact.Remove(id)
			case op < 7:
				m := Member{ID: owners[rng.IntN(len(owners))].ID, Zone: zone()}
				full, compact = full.Join(m), compact.Join(m)
			default:
				full = settle(q, n, full).SettleHandoffs()
				compact = settle(q, n, compact).SettleHandoffs()
				if c := compact.Compact(q, n); c.Base != compact.Base {
					bases++
					compact = c
				}
			}
			if err := compact.Validate(); err != nil {
				t.Fatalf("%s: compacted state invalid: %v", where, err)
			}
			if !reflect.DeepEqual(full.Table(q, n), compact.Table(q, n)) {
				t.Fatalf("%s: tables differ", where)
			}
			if !reflect.DeepEqual(full.Owners(), compact.Owners()) || full.Version() != compact.Version() {
				t.Fatalf("%s: owners or version differ", where)
			}
			// The whole history merged into the compacted copy adds
			// nothing, and the other way round gives the compacted copy.
			if compact.Base != nil {
				if m := Merge(full, compact); !reflect.DeepEqual(m, Merge(compact, full)) || !reflect.DeepEqual(m, compact) {
					t.Fatalf("%s: merging the whole history with its compacted copy gives %+v, want %+v", where, m, compact)
				}
			}
		}
	}
	if bases == 0 {
		t.Fatal("no base was taken: the test did not exercise compaction")
	}
}

// TestState_CompactedMemberComesBack: a member whose entry a base dropped
// joins again as a newcomer: it takes its fair share, and every copy of
// the state, compacted or merged into one that was not, agrees on where.
func TestState_CompactedMemberComesBack(t *testing.T) {
	const q, n = 32, 3
	s := settle(q, n, joinAll(State{}, "a", "b", "c", "d"))
	s = settle(q, n, s.Remove("d")).SettleHandoffs()
	c := s.Compact(q, n)
	if _, ok := c.Entry("d"); ok || c.Base == nil {
		t.Fatalf("compacting kept the removed member's entry (base %v)", c.Base)
	}
	back := c.Join(Member{ID: "d"})
	if back.Clock() != s.Clock()+1 {
		t.Fatalf("the rejoin is at %d, want %d: a version at or below the base would be replayed inside it", back.Clock(), s.Clock()+1)
	}
	tbl := back.Table(q, n)
	if got := tbl.Counts()["d"]; got < n*q/4-2 || got > n*q/4+2 {
		t.Fatalf("the returning member holds %d replicas, want about %d", got, n*q/4)
	}
	// A node that never compacted, merging the rejoin, adopts the base.
	if m := Merge(s, back); !reflect.DeepEqual(m, back) || !reflect.DeepEqual(m.Table(q, n), tbl) {
		t.Fatalf("a node with the whole history merged the rejoin into %+v", m)
	}
	if NewPlan(q, n, back).Settled() {
		t.Fatal("the returning member's placements count as received")
	}
}

// TestState_ValidateRefusesBadBases: a base decoded from a peer is checked
// against the entries beside it, so that replay never panics on one and
// every node replays the same table from it.
func TestState_ValidateRefusesBadBases(t *testing.T) {
	const q, n = 8, 3
	var good State
	for i, id := range []string{"a", "b", "c", "d", "e"} {
		good = good.Join(Member{ID: id, Zone: fmt.Sprintf("z%d", i%3)})
	}
	good = settle(q, n, settle(q, n, good).Remove("d")).SettleHandoffs().Compact(q, n)
	if good.Base == nil {
		t.Fatal("no base to corrupt")
	}
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		bad  func(s *State, b *Base)
	}{
		{"version 0", func(_ *State, b *Base) { b.Version = 0 }},
		{"above the settled register", func(s *State, b *Base) { b.Version = s.HandoffsSettled + 1 }},
		{"a rebalance at its own version", func(_ *State, b *Base) { b.Rebalance = b.Version }},
		{"a rebalance before it", func(_ *State, b *Base) { b.Rebalance = b.Version - 1 }},
		{"slot out of range", func(_ *State, b *Base) { b.Slots[0] = uint32(len(b.Nodes)) }},
		{"member twice in a partition", func(_ *State, b *Base) { b.Slots[1] = b.Slots[0] }},
		{"too few slots", func(_ *State, b *Base) { b.Slots = b.Slots[1:] }},
		{"zone out of range", func(_ *State, b *Base) { b.Nodes[0].Zone = 5 }},
		{"member not in the entries", func(_ *State, b *Base) { b.Nodes[0].ID = "stranger" }},
		{"owner left out", func(_ *State, b *Base) { b.Nodes = b.Nodes[:len(b.Nodes)-1] }},
		{"a zone without members", func(_ *State, b *Base) { b.Zones = append(b.Zones, "empty") }},
		{"zone repeated once there are n zones", func(_ *State, b *Base) {
			w := b.Width()
			for i, v := range b.Slots {
				row := b.Slots[i/w*w : i/w*w+w]
				for u := range b.Nodes {
					if !slices.Contains(row, uint32(u)) && b.Nodes[u].Zone != b.Nodes[v].Zone &&
						slices.ContainsFunc(row, func(x uint32) bool { return x != v && b.Nodes[x].Zone == b.Nodes[u].Zone }) {
						b.Slots[i] = uint32(u)
						return
					}
				}
			}
			panic("no replica to swap for one of a repeated zone")
		}},
		{"a pruned entry kept", func(s *State, _ *Base) {
			s.Members = append(s.Members, MemberState{ID: "zz", JoinVersion: 1, RemoveVersion: 2})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := good
			s.Members = slices.Clone(good.Members)
			b := *good.Base
			b.Nodes, b.Zones, b.Slots = slices.Clone(b.Nodes), slices.Clone(b.Zones), slices.Clone(b.Slots)
			s.Base = &b
			tc.bad(&s, &b)
			if err := s.Validate(); err == nil {
				t.Fatalf("Validate accepted a base with %s", tc.name)
			}
		})
	}
}
