package ring

import (
	"fmt"
	"reflect"
	"slices"
	"testing"

	"github.com/dhtkv/dht/test/testutil"
)

// TestState_HalvingAlignsThenMerges: after random histories, with and
// without zones, halving the ring first aligns each pair of siblings onto
// one of the two replica sets, moving only within pairs and no more than
// the replicas the two sets do not share, each a transfer from a holder
// of the pair; the merge waits for those transfers and the settled
// records, then moves nothing: every key's replicas are nodes that
// received both halves. After the rebalance the loads are near fair, the
// state validates, its version is newer, merging the earlier states into
// it changes nothing, and it records both layouts.
func TestState_HalvingAlignsThenMerges(t *testing.T) {
	const q, n = 32, 3
	rng := testutil.Rand(t)
	aligns := 0
	for run := range 24 {
		s := randomSettledCluster(t, q, n, 10+rng.IntN(30), run%2 == 1)
		grown, err := s.Resize(q, n, 2*q)
		if err != nil {
			t.Fatal(err)
		}
		grown = settle(q, n, grown).SettleHandoffs()
		for _, from := range []struct {
			name string
			s    State
			q    int
		}{{"from the initial count", s, q}, {"back from a split", grown, 2 * q}} {
			where := fmt.Sprintf("run %d, %s", run, from.name)
			r, err := from.s.Resize(q, n, from.q/2)
			if err != nil {
				t.Fatalf("%s: %v", where, err)
			}
			if err := r.Validate(); err != nil {
				t.Fatalf("%s: halving state invalid: %v", where, err)
			}
			if r.Version() <= from.s.Version() || !reflect.DeepEqual(Merge(from.s, r), r) {
				t.Fatalf("%s: version %d (was %d), or merging the state before changes it", where, r.Version(), from.s.Version())
			}
			pre := NewPlan(q, n, from.s)
			if r.Halving() != 0 {
				aligns++
				// The align: pairs share replicas, moved within pairs.
				if r.Partitions(q) != from.q || r.Halving() != from.q/2 || r.Base.Align != r.Clock() {
					t.Fatalf("%s: %d partitions halving to %d, align at %d (clock %d)", where, r.Partitions(q), r.Halving(), r.Base.Align, r.Clock())
				}
				pl := NewPlan(q, n, r)
				for p := 0; p < from.q; p += 2 {
					a, b := pl.Table.Replicas[p], pl.Table.Replicas[p+1]
					if !sameSet(a, b) {
						t.Fatalf("%s: partitions %d and %d hold %v and %v after the align", where, p, p+1, a, b)
					}
					was := append(slices.Clone(pre.Table.Replicas[p]), pre.Table.Replicas[p+1]...)
					if !sameSet(a, pre.Table.Replicas[p]) && !sameSet(a, pre.Table.Replicas[p+1]) {
						t.Fatalf("%s: pair %d aligned onto %v, neither %v nor %v", where, p, a, pre.Table.Replicas[p], pre.Table.Replicas[p+1])
					}
					for _, c := range []int{p, p + 1} {
						for _, sl := range pl.Slots[c] {
							fresh := !slices.Contains(pre.Table.Replicas[c], sl.Node)
							if fresh == sl.Received {
								t.Fatalf("%s: partition %d: %s received %v, new %v", where, c, sl.Node, sl.Received, fresh)
							}
							if fresh && (len(sl.Replaces) != 1 || !slices.Contains(was, sl.Replaces[0].Node)) {
								t.Fatalf("%s: partition %d: %s replaces %v", where, c, sl.Node, sl.Replaces)
							}
						}
					}
				}
				if _, ok := r.FinishHalving(q, n); ok {
					t.Fatalf("%s: the merge went ahead before the align's transfers", where)
				}
				// A growth waits for the halving.
				if _, err := r.Resize(q, n, 4*q); err == nil {
					t.Fatalf("%s: a resize to %d was accepted during the halving", where, 4*q)
				}
				aligned := NewPlan(q, n, r)
				var ok bool
				if r, ok = settle(q, n, r).SettleHandoffs().FinishHalving(q, n); !ok {
					t.Fatalf("%s: no merge once the align settled", where)
				}
				pre = aligned
			}
			// The merge: nothing moves but for the rebalance.
			if r.Halving() != 0 || r.Partitions(q) != from.q/2 {
				t.Fatalf("%s: after the merge %d partitions, halving to %d", where, r.Partitions(q), r.Halving())
			}
			if err := r.Validate(); err != nil {
				t.Fatalf("%s: merged state invalid: %v", where, err)
			}
			bare := r
			bare.Base = new(*r.Base)
			bare.Base.Rebalance = 0
			merged := NewPlan(q, n, bare)
			if !merged.Settled() {
				t.Fatalf("%s: the merge has transfers", where)
			}
			for i := range 500 {
				key := fmt.Appendf(nil, "key-%d-%d", run, i)
				half, cur := PartitionOf(key, from.q), PartitionOf(key, from.q/2)
				if half/2 != cur {
					t.Fatalf("%s: key %q in %d of %d, %d of %d", where, key, half, from.q, cur, from.q/2)
				}
				for _, id := range merged.Table.Replicas[cur] {
					if !slices.Contains(pre.Table.Replicas[2*cur], id) || !slices.Contains(pre.Table.Replicas[2*cur+1], id) {
						t.Fatalf("%s: key %q on %s, which held %v and %v", where, key, id, pre.Table.Replicas[2*cur], pre.Table.Replicas[2*cur+1])
					}
				}
			}
			done := settle(q, n, r).SettleHandoffs()
			checkNearFair(t, done.Table(q, n), where+" after the merge")
			if got, want := r.Base.LayoutSizes(q), layoutsOf(q, from.q); !slices.Equal(got, want) {
				t.Fatalf("%s: layouts %v, want %v", where, got, want)
			}
		}
	}
	t.Logf("%d of 48 halvings aligned before merging", aligns)
	if aligns == 0 {
		t.Fatal("no halving had to align: the test checks nothing of it")
	}
}

// layoutsOf is the layouts a ring that started at q has after growing to
// top and halving back once.
func layoutsOf(q, top int) []int {
	out := []int{}
	for s := min(q, top/2); s <= max(q, top); s *= 2 {
		out = append(out, s)
	}
	return out
}

func sameSet(a, b []string) bool {
	return slices.Equal(slices.Sorted(slices.Values(a)), slices.Sorted(slices.Values(b)))
}

// TestState_HalvingRealignsAfterAChange: a join made while the pairs
// align breaks some of them; FinishHalving then aligns again rather than
// merge, and merges once that has settled.
func TestState_HalvingRealignsAfterAChange(t *testing.T) {
	const q, n = 64, 3
	s := settle(q, n, joinAll(State{}, "a", "b", "c", "d", "e")).SettleHandoffs()
	r, err := s.Resize(q, n, q/2)
	if err != nil || r.Halving() != q/2 {
		t.Fatalf("halving: %v, under way to %d", err, r.Halving())
	}
	r = settle(q, n, r.Join(Member{ID: "f"})).SettleHandoffs()
	again, ok := r.FinishHalving(q, n)
	if !ok || again.Halving() != q/2 || again.Base.Align == 0 || again.Partitions(q) != q {
		t.Fatalf("after a join during the align: finished %v, halving to %d, align at %d, %d partitions", ok, again.Halving(), again.Base.Align, again.Partitions(q))
	}
	merged, ok := settle(q, n, again).SettleHandoffs().FinishHalving(q, n)
	if !ok || merged.Halving() != 0 || merged.Partitions(q) != q/2 || !merged.Owner("f") {
		t.Fatalf("the second align settled: merged %v, halving to %d, %d partitions, f an owner %v", ok, merged.Halving(), merged.Partitions(q), merged.Owner("f"))
	}
	if err := merged.Validate(); err != nil {
		t.Fatal(err)
	}
}
