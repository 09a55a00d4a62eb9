package ring

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"testing"

	"github.com/dhtkv/dht/test/testutil"
)

// randomSettledCluster drives a cluster through random joins (some in new
// zones), decommissions, zone changes and losses, settling and
// compacting at random, and returns it settled at its latest change.
func randomSettledCluster(t *testing.T, q, n int, steps int, zones bool) State {
	t.Helper()
	rng := testutil.Rand(t)
	s := joinAll(State{}, "a", "b", "c")
	next := 0
	zone := func() string {
		if !zones {
			return ""
		}
		return fmt.Sprintf("z%d", rng.IntN(n+1))
	}
	for range steps {
		owners := s.Owners()
		switch op := rng.IntN(10); {
		case op < 4:
			next++
			s = s.Join(Member{ID: fmt.Sprintf("m%d", next), Zone: zone()})
		case op < 6 && len(owners) > n:
			s = s.Remove(owners[rng.IntN(len(owners))].ID)
		case op < 7:
			s = s.MarkRebuild(owners[rng.IntN(len(owners))].ID)
		case op < 8 && zones:
			s = s.Join(Member{ID: owners[rng.IntN(len(owners))].ID, Zone: zone()})
		default:
			s = settle(q, n, s).SettleHandoffs()
			if rng.IntN(2) == 0 {
				s = s.Compact(q, n)
			}
		}
	}
	return settle(q, n, s).SettleHandoffs()
}

// TestState_ResizeSplitsInPlace: after random histories, with and without
// zones, splitting the ring by 2, 4 and 16 sends every key to the replicas
// it had (their preference order is spread afresh per partition, as on any
// ring, so a child may have another primary), and leaves nothing to
// transfer: every replica
// of every new partition has received (it held the parent), the plan is
// settled, and the owners are those before. The resized state validates,
// is a newer version, and absorbs the state it came from.
func TestState_ResizeSplitsInPlace(t *testing.T) {
	const q, n = 32, 3
	rng := testutil.Rand(t)
	for run := range 24 {
		s := randomSettledCluster(t, q, n, 10+rng.IntN(30), run%2 == 1)
		before := NewPlan(q, n, s)
		for _, f := range []int{2, 4, 16} {
			where := fmt.Sprintf("run %d, ×%d", run, f)
			r, err := s.Resize(q, n, q*f)
			if err != nil {
				t.Fatalf("%s: %v", where, err)
			}
			if err := r.Validate(); err != nil {
				t.Fatalf("%s: resized state invalid: %v", where, err)
			}
			if got := r.Partitions(q); got != q*f {
				t.Fatalf("%s: %d partitions after the resize", where, got)
			}
			if r.Version() <= s.Version() || r.Clock() != s.Clock()+1 {
				t.Fatalf("%s: version %d (was %d), clock %d (was %d): a resize is a change of its own", where, r.Version(), s.Version(), r.Clock(), s.Clock())
			}
			if !reflect.DeepEqual(r.Owners(), s.Owners()) {
				t.Fatalf("%s: owners %v, were %v", where, r.Owners(), s.Owners())
			}
			after := NewPlan(q, n, r)
			if len(after.Table.Replicas) != q*f || !after.Settled() {
				t.Fatalf("%s: plan of %d partitions, settled %v", where, len(after.Table.Replicas), after.Settled())
			}
			for i := range 2000 {
				key := fmt.Appendf(nil, "key-%d-%d", run, i)
				old, cur := PartitionOf(key, q), PartitionOf(key, q*f)
				if cur/uint32(f) != old {
					t.Fatalf("%s: key %q in partition %d of %d, child of %d, not %d", where, key, cur, q*f, cur/uint32(f), old)
				}
				if !slices.Equal(slices.Sorted(slices.Values(after.Table.Replicas[cur])), slices.Sorted(slices.Values(before.Table.Replicas[old]))) {
					t.Fatalf("%s: key %q moves from %v to %v", where, key, before.Table.Replicas[old], after.Table.Replicas[cur])
				}
			}
			for _, m := range after.Table.Members {
				if tr := after.Transfers(m.ID); len(tr) != 0 {
					t.Fatalf("%s: %s has %d transfers after a split", where, m.ID, len(tr))
				}
				for p := range q * f {
					if after.Needs(m.ID, uint32(p)) != before.Needs(m.ID, uint32(p/f)) {
						t.Fatalf("%s: %s needs partition %d: %v, its parent %d: %v", where, m.ID, p,
							after.Needs(m.ID, uint32(p)), p/f, before.Needs(m.ID, uint32(p/f)))
					}
				}
			}
			if m := Merge(s, r); !reflect.DeepEqual(m, r) || !reflect.DeepEqual(Merge(r, s), r) {
				t.Fatalf("%s: merging the state before the resize into it changes it", where)
			}
		}
	}
}

// TestState_ResizeThenChanges: after a split, joins and decommissions
// claim over the new partitions as over any ring: balanced, zones
// distinct, a join moving only the newcomer's share to it; and the
// resized ring compacts, settles and resizes again.
func TestState_ResizeThenChanges(t *testing.T) {
	const q, n = 16, 3
	s := settle(q, n, joinAll(State{}, "a", "b", "c", "d")).SettleHandoffs()
	s, err := s.Resize(q, n, 64)
	if err != nil {
		t.Fatal(err)
	}
	prev := s.Table(q, n)
	checkNearFair(t, prev, "after the split")
	for i, id := range []string{"e", "f", "g"} {
		s = s.Join(Member{ID: id})
		tab := s.Table(q, n)
		if len(tab.Replicas) != 64 {
			t.Fatalf("join %s: %d partitions", id, len(tab.Replicas))
		}
		checkNearFair(t, tab, "join "+id)
		moved := 0
		for p := range tab.Replicas {
			for _, m := range tab.Replicas[p] {
				if !slices.Contains(prev.Replicas[p], m) {
					if m != id {
						t.Fatalf("join %s: partition %d moved to %s", id, p, m)
					}
					moved++
				}
			}
		}
		if ideal := 64 * n / (5 + i); float64(moved) > 1.25*float64(ideal) {
			t.Fatalf("join %s moved %d replicas, ideal %d", id, moved, ideal)
		}
		prev = tab
		s = settle(q, n, s).SettleHandoffs()
	}
	s, _ = s.Decommission("a")
	s = settle(q, n, s).SettleHandoffs()
	checkNearFair(t, s.Table(q, n), "decommission a")
	c := s.Compact(q, n)
	if c.Base == s.Base || c.Partitions(q) != 64 || c.Version() != s.Version() {
		t.Fatalf("compacting after the resize: new base %v, %d partitions, version %d (was %d)",
			c.Base != s.Base, c.Partitions(q), c.Version(), s.Version())
	}
	if !reflect.DeepEqual(c.Table(q, n), s.Table(q, n)) {
		t.Fatal("compacting after the resize changed the table")
	}
	again, err := c.Resize(q, n, 128)
	if err != nil || again.Partitions(q) != 128 {
		t.Fatalf("second resize: %v, %d partitions", err, again.Partitions(q))
	}
}

// TestState_ResizeRefusals: each rule, with the state left as it was.
func TestState_ResizeRefusals(t *testing.T) {
	const q, n = 32, 3
	settled := settle(q, n, joinAll(State{}, "a", "b", "c")).SettleHandoffs()
	moving := settled.Join(Member{ID: "d"})
	recorded := settle(q, n, moving) // records made, not yet settled
	for _, tt := range []struct {
		name string
		s    State
		to   int
		rule error
	}{
		{"not a power of two", settled, 48, ErrResizeCount},
		{"above the maximum", settled, MaxPartitions * 2, ErrResizeCount},
		{"halving", settled, 16, ErrResizeShrink},
		{"transfers running", moving, 64, ErrResizeUnsettled},
		{"records not settled", recorded, 64, ErrResizeUnsettled},
		{"no owners", State{}, 64, ErrResizeEmpty},
	} {
		got, err := tt.s.Resize(q, n, tt.to)
		var re *ResizeError
		if !errors.Is(err, tt.rule) || !errors.As(err, &re) || re.Reason() == "" {
			t.Errorf("%s: got %v, want %v", tt.name, err, tt.rule)
		}
		if !reflect.DeepEqual(got, tt.s) {
			t.Errorf("%s: a refused resize changed the state", tt.name)
		}
	}
	if same, err := settled.Resize(q, n, q); err != nil || !reflect.DeepEqual(same, settled) {
		t.Errorf("resizing to the current count: %v, changed %v", err, !reflect.DeepEqual(same, settled))
	}
}

// TestState_ResizeDropsAConcurrentChange: a join made on a node that had
// not heard of the resize, at the resize's own version, is a late change:
// Merge drops it from either side, and made again above the resize it
// claims over the new partitions.
func TestState_ResizeDropsAConcurrentChange(t *testing.T) {
	const q, n = 32, 3
	s := settle(q, n, joinAll(State{}, "a", "b", "c")).SettleHandoffs()
	resized, err := s.Resize(q, n, 64)
	if err != nil {
		t.Fatal(err)
	}
	concurrent := s.Join(Member{ID: "d"})
	if concurrent.Clock() != resized.Clock() {
		t.Fatalf("the join is at %d, the resize at %d: not concurrent", concurrent.Clock(), resized.Clock())
	}
	m := Merge(resized, concurrent)
	if !reflect.DeepEqual(m, Merge(concurrent, resized)) {
		t.Fatal("Merge is not commutative across a resize")
	}
	if m.Owner("d") || m.KnowsChangesOf(concurrent) || m.Partitions(q) != 64 {
		t.Fatalf("merged: d owner %v, knows the join %v, %d partitions", m.Owner("d"), m.KnowsChangesOf(concurrent), m.Partitions(q))
	}
	again := m.Join(Member{ID: "d"})
	tab := again.Table(q, n)
	if len(tab.Replicas) != 64 || tab.Counts()["d"] == 0 {
		t.Fatalf("the join made again: %d partitions, d holds %d", len(tab.Replicas), tab.Counts()["d"])
	}
	if tr := NewPlan(q, n, again).Transfers("d"); len(tr) != tab.Counts()["d"] {
		t.Fatalf("d has %d transfers for %d replicas", len(tr), tab.Counts()["d"])
	}
}
