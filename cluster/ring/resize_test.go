package ring

import (
	"errors"
	"fmt"
	"maps"
	"math"
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
// ring, so a child may have another primary): the split itself, the base,
// leaves nothing to transfer, every replica of every new partition having
// received (it held the parent). The rebalance recorded after it, when
// there is one, moves replicas only from members above their fair share
// to members below it, no more than their shortfalls add up to, each move
// a transfer from the member it replaces; once they are done, loads are
// near fair. The resized state validates, is a newer version, and absorbs
// the state it came from.
func TestState_ResizeSplitsInPlace(t *testing.T) {
	const q, n = 32, 3
	rng := testutil.Rand(t)
	rebalanced, moves := 0, 0
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
			at := s.Clock() + 1
			if r.Version() <= s.Version() || r.Base.Version != at || r.HandoffsSettled != at {
				t.Fatalf("%s: version %d (was %d), base at %d, settled at %d, want %d: a resize is a change of its own",
					where, r.Version(), s.Version(), r.Base.Version, r.HandoffsSettled, at)
			}
			if rb := r.Base.Rebalance; (rb != 0 && rb != at+1) || r.Clock() != max(at, rb) {
				t.Fatalf("%s: rebalance at %d, clock %d, base at %d", where, rb, r.Clock(), at)
			}
			if !reflect.DeepEqual(r.Owners(), s.Owners()) {
				t.Fatalf("%s: owners %v, were %v", where, r.Owners(), s.Owners())
			}

			// The split: the base alone.
			bare := r
			bare.Base = new(*r.Base)
			bare.Base.Rebalance = 0
			split := NewPlan(q, n, bare)
			if len(split.Table.Replicas) != q*f || !split.Settled() {
				t.Fatalf("%s: split plan of %d partitions, settled %v", where, len(split.Table.Replicas), split.Settled())
			}
			for i := range 2000 {
				key := fmt.Appendf(nil, "key-%d-%d", run, i)
				old, cur := PartitionOf(key, q), PartitionOf(key, q*f)
				if cur/uint32(f) != old {
					t.Fatalf("%s: key %q in partition %d of %d, child of %d, not %d", where, key, cur, q*f, cur/uint32(f), old)
				}
				if !slices.Equal(slices.Sorted(slices.Values(split.Table.Replicas[cur])), slices.Sorted(slices.Values(before.Table.Replicas[old]))) {
					t.Fatalf("%s: key %q moves from %v to %v", where, key, before.Table.Replicas[old], split.Table.Replicas[cur])
				}
			}
			for _, m := range split.Table.Members {
				if tr := split.Transfers(m.ID); len(tr) != 0 {
					t.Fatalf("%s: %s has %d transfers after a split", where, m.ID, len(tr))
				}
				for p := range q * f {
					if split.Needs(m.ID, uint32(p)) != before.Needs(m.ID, uint32(p/f)) {
						t.Fatalf("%s: %s needs partition %d: %v, its parent %d: %v", where, m.ID, p,
							split.Needs(m.ID, uint32(p)), p/f, before.Needs(m.ID, uint32(p/f)))
					}
				}
			}

			// The rebalance: from above the fair share to below, as
			// transfers. With zones a replica may only go where its zone
			// is new to the partition, so an even spread can take a
			// chain of moves: a member may pass on a replica it took,
			// and one at its share may give to one further below.
			zones := run%2 == 1
			after := NewPlan(q, n, r)
			fair, was, now := fairShares(split.Table), split.Table.Counts(), after.Table.Counts()
			shortfall, moved := 0.0, 0
			for id, share := range fair {
				shortfall += math.Max(0, math.Ceil(share)-float64(was[id]))
				switch d := now[id] - was[id]; {
				case !zones && (d > 0 && float64(was[id]) >= share || d < 0 && float64(was[id]) <= share):
					t.Fatalf("%s: %s held %d replicas (fair %.2f) and the rebalance moved %d", where, id, was[id], share, d)
				case d > 0:
					moved += d
				}
			}
			if float64(moved) > shortfall {
				t.Fatalf("%s: the rebalance moved %d replicas, the shortfalls add up to %.0f", where, moved, shortfall)
			}
			if (moved > 0) != (r.Base.Rebalance != 0) {
				t.Fatalf("%s: rebalance recorded at %d, moving %d replicas", where, r.Base.Rebalance, moved)
			}
			transfers := 0
			for p := range q * f {
				for _, sl := range after.Slots[p] {
					fresh := !slices.Contains(split.Table.Replicas[p], sl.Node)
					// A member of the split's set placed anew gave its
					// replica away in a chain of moves and took it back
					// (zones only): it is sent it again.
					back := !fresh && zones && r.Base.Rebalance != 0 && sl.Since == r.Base.Rebalance && !sl.Received
					if !back && (fresh != (sl.Since == r.Base.Rebalance && r.Base.Rebalance != 0) || fresh == sl.Received) {
						t.Fatalf("%s: partition %d: %s placed at %d, received %v, new %v", where, p, sl.Node, sl.Since, sl.Received, fresh)
					}
					if !fresh {
						continue
					}
					transfers++
					// It is sent the data by the member it replaces, the
					// last of the chain, which held the partition.
					if k := len(sl.Replaces); k == 0 || !sl.Replaces[k-1].Received || !slices.Contains(split.Table.Replicas[p], sl.Replaces[k-1].Node) {
						t.Fatalf("%s: partition %d: %s replaces %v, want a chain from one of %v", where, p, sl.Node, sl.Replaces, split.Table.Replicas[p])
					}
				}
			}
			if transfers != moved && (!zones || transfers > 2*moved) {
				t.Fatalf("%s: %d new placements for %d replicas moved", where, transfers, moved)
			}
			if moved > 0 {
				rebalanced++
				moves += moved
				done := settle(q, n, r)
				if !NewPlan(q, n, done).Settled() {
					t.Fatalf("%s: the rebalance's transfers done, the plan is not settled", where)
				}
				checkNearFair(t, done.Table(q, n), where+" after the rebalance")
			}
			if m := Merge(s, r); !reflect.DeepEqual(m, r) || !reflect.DeepEqual(Merge(r, s), r) {
				t.Fatalf("%s: merging the state before the resize into it changes it", where)
			}
		}
	}
	t.Logf("%d of 72 resizes rebalanced, moving %d replicas in all", rebalanced, moves)
	if rebalanced == 0 {
		t.Fatal("no resize rebalanced: the test checks nothing of the rebalance")
	}
}

// TestState_RebalanceEvensASplit: at the sizes issue 20 names, a split
// leaves the worst member as far above the mean as the smaller ring
// did, and the rebalance brings every member within one replica of its
// fair share, moving only the shortfalls: a few replicas per member, a
// small share of all of them. A rebalanced state compacts to a base
// that replays to the same table, without the rebalance.
func TestState_RebalanceEvensASplit(t *testing.T) {
	for _, tt := range []struct{ members, q int }{{50, 256}, {300, 1024}, {1000, 2048}} {
		const n = 3
		ids := make([]string, tt.members)
		for i := range ids {
			ids[i] = fmt.Sprintf("node-%04d", i)
		}
		s := settle(tt.q, n, joinAll(State{}, ids...)).SettleHandoffs()
		r, err := s.Resize(tt.q, n, 2*tt.q)
		if err != nil {
			t.Fatal(err)
		}
		bare := r
		bare.Base = new(*r.Base)
		bare.Base.Rebalance = 0
		split, even := bare.Table(tt.q, n), r.Table(tt.q, n)
		mean := float64(n*2*tt.q) / float64(tt.members)
		worst := func(tab Table) float64 { return float64(slices.Max(slices.Collect(maps.Values(tab.Counts())))) / mean }
		moved := 0
		for p := range even.Replicas {
			for _, id := range even.Replicas[p] {
				if !slices.Contains(split.Replicas[p], id) {
					moved++
				}
			}
		}
		t.Logf("%d members, Q %d → %d: worst member %.3f of the mean after the split, %.3f after the rebalance, which moved %d of %d replicas (%.1f%%)",
			tt.members, tt.q, 2*tt.q, worst(split), worst(even), moved, n*2*tt.q, 100*float64(moved)/float64(n*2*tt.q))
		for id, k := range even.Counts() {
			if share := mean; math.Abs(float64(k)-share) >= 1 {
				t.Errorf("%d members: %s holds %d replicas after the rebalance, fair share %.2f", tt.members, id, k, share)
			}
		}
		if moved == 0 || float64(moved) > 0.1*float64(n*2*tt.q) {
			t.Errorf("%d members: the rebalance moved %d of %d replicas", tt.members, moved, n*2*tt.q)
		}
		done := settle(tt.q, n, r).SettleHandoffs()
		c := done.Compact(tt.q, n)
		if c.Base == done.Base || c.Base.Rebalance != 0 || c.Version() != done.Version() {
			t.Fatalf("compacting the rebalanced ring: new base %v, rebalance %d, version %d (was %d)", c.Base != done.Base, c.Base.Rebalance, c.Version(), done.Version())
		}
		if !reflect.DeepEqual(c.Table(tt.q, n), even) {
			t.Fatal("compacting past the rebalance changed the table")
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
	var halving State
	for i := 0; halving.Halving() == 0; i++ {
		// A cluster whose sibling pairs are not aligned yet: its halving
		// stays under way.
		s := settle(q, n, joinAll(settled, fmt.Sprintf("x%d", i), fmt.Sprintf("y%d", i))).SettleHandoffs()
		var err error
		if halving, err = s.Resize(q, n, q/2); err != nil {
			t.Fatal(err)
		}
	}
	for _, tt := range []struct {
		name string
		s    State
		to   int
		rule error
	}{
		{"not a power of two", settled, 48, ErrResizeCount},
		{"above the maximum", settled, MaxPartitions * 2, ErrResizeCount},
		{"a quarter at once", settled, 8, ErrResizeShrink},
		{"a halving under way", halving, 64, ErrResizeHalving},
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
