package topology

import (
	"fmt"
	"reflect"
	"slices"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/dhtkv/dht/cluster/ring"
)

// TestWire_StateRoundTrip: what gossip and the stored copy carry of a
// ring state reads back as the same state, every register included: a
// field the encoding dropped would be lost at the next restart or hop
// (the register that keeps a removed member's handoff records forgotten
// would let a peer bring them back).
func TestWire_StateRoundTrip(t *testing.T) {
	const q, n = 16, 3
	s := settledRing(q, n, []string{"a", "b", "c", "d"})
	s = s.Remove("d").MarkRebuild("a").Join(ring.Member{ID: "e", Zone: "z2"})
	for _, sl := range ring.NewPlan(q, n, s).Slots {
		for _, x := range sl {
			if x.Node == "a" {
				s = s.CompleteHandoff("a", 0, x.Since)
			}
		}
	}
	s = s.ForgetHandoffs("d")
	if s.RebuildVersion("a") == 0 {
		t.Fatal("test state has no rebuild mark")
	}
	cfg := Config{Cluster: "c", Partitions: q, N: n}
	got, err := stateFromProto(stateToProto(cfg, s))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, s) {
		t.Fatalf("round trip changed the state:\n got %+v\nwant %+v", got, s)
	}
	forgotten := false
	for _, m := range got.Members {
		forgotten = forgotten || (m.ID == "d" && m.HandoffsForgotten != 0)
	}
	if !forgotten {
		t.Fatal("d's forgotten-records register did not survive the round trip")
	}

	// The settled register, with a record of a later placement beside it.
	s = settleAll(q, n, s).SettleHandoffs().Join(ring.Member{ID: "f"})
	tr := ring.NewPlan(q, n, s).Transfers("f")
	if len(tr) == 0 || s.HandoffsSettled == 0 {
		t.Fatal("test state has no settled register or no later transfer")
	}
	s = s.CompleteHandoff("f", tr[0].Partition, tr[0].Since)
	if got, err = stateFromProto(stateToProto(cfg, s)); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, s) {
		t.Fatalf("round trip changed the settled state:\n got %+v\nwant %+v", got, s)
	}

	// A base, with zones, and a change after it.
	for i, id := range []string{"a", "b", "c", "e", "f"} {
		s = s.Join(ring.Member{ID: id, Zone: fmt.Sprintf("z%d", i%3)})
	}
	s = settleAll(q, n, settleAll(q, n, s).Remove("b")).SettleHandoffs().Compact(q, n)
	if s.Base == nil {
		t.Fatal("test state has no base")
	}
	s = s.Join(ring.Member{ID: "g", Zone: "z1"})
	if got, err = stateFromProto(stateToProto(cfg, s)); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, s) {
		t.Fatalf("round trip changed the compacted state:\n got %+v\nwant %+v", got, s)
	}
	// A resized ring carries its own partition count and its rebalance,
	// and a record of a placement in a new partition after it.
	r, err := settleAll(q, n, s).SettleHandoffs().Resize(q, n, 4*q)
	if err != nil {
		t.Fatal(err)
	}
	if r.Base.Rebalance == 0 {
		// This ring is even after the split; the wire carries a
		// rebalance all the same.
		r.Base = new(*r.Base)
		r.Base.Rebalance = r.Base.Version + 1
	}
	r = r.Join(ring.Member{ID: "h", Zone: "z2"})
	tr = ring.NewPlan(q, n, r).Transfers("h")
	r = r.CompleteHandoff("h", tr[len(tr)-1].Partition, tr[len(tr)-1].Since)
	if tr[len(tr)-1].Partition < q {
		t.Fatalf("h's last transfer is of partition %d: the test wants one only the resized ring has", tr[len(tr)-1].Partition)
	}
	rs := stateToProto(cfg, r)
	if rs.GetPartitions() != q || rs.GetBase().GetPartitions() != 4*q {
		t.Fatalf("resized state encoded with %d partitions and a base of %d, want %d (the shape peers compare) and %d",
			rs.GetPartitions(), rs.GetBase().GetPartitions(), q, 4*q)
	}
	if got, err = stateFromProto(rs); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, r) {
		t.Fatalf("round trip changed the resized state:\n got %+v\nwant %+v", got, r)
	}

	// A ring halving back, then halved below the count it started with,
	// carries its halving, its align and its layouts.
	h, err := settleAll(q, n, r).SettleHandoffs().Resize(q, n, 2*q)
	if err != nil || h.Halving() != 2*q || h.Base.Align == 0 {
		t.Fatalf("halving from %d: %v, under way to %d, align at %d", 4*q, err, h.Halving(), h.Base.Align)
	}
	for h.Partitions(q) != q/2 {
		if got, err = stateFromProto(stateToProto(cfg, h)); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, h) {
			t.Fatalf("round trip changed the halving state:\n got %+v\nwant %+v", got, h)
		}
		h = settleAll(q, n, h).SettleHandoffs()
		if next, ok := h.FinishHalving(q, n); ok {
			h = next
		} else if h, err = h.Resize(q, n, h.Partitions(q)/2); err != nil {
			t.Fatal(err)
		}
	}
	if got, err = stateFromProto(stateToProto(cfg, h)); err != nil || !reflect.DeepEqual(got, h) {
		t.Fatalf("round trip changed the state halved to %d: %v\n got %+v\nwant %+v", q/2, err, got, h)
	}
	if sizes := h.Base.LayoutSizes(q); !slices.Equal(sizes, []int{q / 2, q, 2 * q, 4 * q}) {
		t.Fatalf("the halved ring's layouts: %v", sizes)
	}

	// A base resized to no power of two, or past the largest ring, is
	// refused.
	for _, bad := range []uint32{q + 1, 3 * q, ring.MaxPartitions * 2} {
		rs = stateToProto(cfg, r)
		rs.Base.Partitions = bad
		if _, err := stateFromProto(rs); err == nil {
			t.Fatalf("a base resized to %d partitions from %d was accepted", bad, q)
		}
	}

	// A base whose packed slots are cut short, or name a member it does
	// not list, is refused.
	rs = stateToProto(cfg, s)
	rs.Base.Slots = rs.Base.Slots[1:]
	if _, err := stateFromProto(rs); err == nil {
		t.Fatal("a base with its slots cut short was accepted")
	}
	rs = stateToProto(cfg, s)
	rs.Base.Nodes = rs.Base.Nodes[:1]
	rs.Base.NodeZones = rs.Base.NodeZones[:1]
	if _, err := stateFromProto(rs); err == nil {
		t.Fatal("a base that lists one member for many slots was accepted")
	}
}

// TestWire_CompactionBoundsTheStateUnderChurn: a cluster whose members
// are replaced again and again (a new node joins, the oldest is
// decommissioned, transfers finish, the records settle) keeps an entry
// per removed member unless it compacts; with CompactIfSmaller at each
// settle, the state stops growing once the base pays for itself (but for
// longer ids and versions), and routes as the whole history does. It logs the sizes, the figures in
// the README.
func TestWire_CompactionBoundsTheStateUnderChurn(t *testing.T) {
	const q, n, rounds = 256, 3, 128
	for _, k := range []int{3, 16} {
		ids := make([]string, k)
		for i := range ids {
			ids[i] = fmt.Sprintf("n%02d", i)
		}
		settled := settledRing(q, n, ids).SettleHandoffs()
		compacted := settled
		size := func(s ring.State) int { return proto.Size(ringEnvelope("c", q, n, s)) }
		// With compaction the state grows by an entry per replaced
		// member until the entries outweigh a base; from then on each
		// new base replaces the last, so a removed entry pays for one,
		// and the state stays about a base and the current members.
		peak, largestAfter, bases, first := 0, 0, 0, 0
		for i := range rounds {
			id := fmt.Sprintf("r%03d", i)
			oldest := settled.Owners()[0].ID // n00… sort before r000…
			step := func(s ring.State) ring.State {
				return settleAll(q, n, settleAll(q, n, s.Join(ring.Member{ID: id})).Remove(oldest)).SettleHandoffs()
			}
			settled = step(settled)
			before := step(compacted)
			compacted = before.CompactIfSmaller(q, n, size)
			if compacted.Base != before.Base {
				if bases++; bases == 1 {
					peak, first = size(before), i+1
					continue
				}
			}
			if bases > 0 {
				largestAfter = max(largestAfter, size(compacted))
			}
		}
		t.Logf("%d nodes, %d replaced: full state %d B settled, %d B compacted (%d bases; the first after %d replacements at %d B, at most %d B since); %d and %d entries",
			k, rounds, size(settled), size(compacted), bases, first, peak, largestAfter, len(settled.Members), len(compacted.Members))
		// Longer ids ("r100" for "n01") and version numbers add a little.
		if bases < 2 || largestAfter > peak+peak/10 || size(compacted) >= size(settled) {
			t.Errorf("%d nodes: %d bases, state up to %d B after the first (taken at %d B), %d B at the end where the entries alone take %d B: not bounded",
				k, bases, largestAfter, peak, size(compacted), size(settled))
		}
		if !reflect.DeepEqual(ring.NewPlan(q, n, settled).Table, ring.NewPlan(q, n, compacted).Table) {
			t.Errorf("%d nodes: compacting changed the table", k)
		}
	}
}

// settleAll records every transfer s's plan asks for, until none is left.
func settleAll(q, n int, s ring.State) ring.State {
	for {
		pl := ring.NewPlan(q, n, s)
		if pl.Settled() {
			return s
		}
		for _, m := range pl.Table.Members {
			for _, tr := range pl.Transfers(m.ID) {
				s = s.CompleteHandoff(m.ID, tr.Partition, tr.Since)
			}
		}
	}
}

// TestWire_ForgettingKeepsTheStateSizeOfTheCurrentMembers: a cluster whose
// members are replaced one by one (a new node joins, an old one is
// decommissioned, transfers finish) keeps every removed member's handoff
// records unless they are forgotten. With removed members' records
// forgotten, the full state (what a digest mismatch sends, and what is
// stored) stays the size of the current members' records plus one small
// entry per removed member; with the settled register, of the entries
// alone. It logs the three sizes, the figures in the README.
func TestWire_ForgettingKeepsTheStateSizeOfTheCurrentMembers(t *testing.T) {
	const q, n = 256, 3
	for _, k := range []int{3, 16} {
		ids := make([]string, k)
		for i := range ids {
			ids[i] = fmt.Sprintf("n%02d", i)
		}
		kept := settledRing(q, n, ids)
		pruned, settled := kept, kept
		fresh := proto.Size(ringEnvelope("c", q, n, kept))
		for i := range k {
			id := fmt.Sprintf("r%02d", i)
			kept = settleAll(q, n, settleAll(q, n, kept.Join(ring.Member{ID: id})).Remove(ids[i]))
			pruned = settleAll(q, n, settleAll(q, n, pruned.Join(ring.Member{ID: id})).Remove(ids[i])).ForgetHandoffs(ids[i])
			settled = settleAll(q, n, settleAll(q, n, settled.Join(ring.Member{ID: id})).Remove(ids[i])).SettleHandoffs()
		}
		keptSize, prunedSize, settledSize := proto.Size(ringEnvelope("c", q, n, kept)), proto.Size(ringEnvelope("c", q, n, pruned)), proto.Size(ringEnvelope("c", q, n, settled))
		t.Logf("%d nodes, every one replaced: full state %d B kept, %d B with removed members' records forgotten, %d B settled (%d B before the replacements); records %d, %d and %d",
			k, keptSize, prunedSize, settledSize, fresh, len(kept.Handoffs), len(pruned.Handoffs), len(settled.Handoffs))
		if len(settled.Handoffs) != 0 || settledSize >= prunedSize {
			t.Errorf("%d nodes: the settled state keeps %d records in %d B, not below %d B", k, len(settled.Handoffs), settledSize, prunedSize)
		}
		if !reflect.DeepEqual(ring.NewPlan(q, n, kept).Table, ring.NewPlan(q, n, settled).Table) || !ring.NewPlan(q, n, settled).Settled() {
			t.Errorf("%d nodes: settling changed the table or unsettled the plan", k)
		}
		for _, h := range pruned.Handoffs {
			if !pruned.Owner(h.Member) {
				t.Fatalf("%d nodes: a removed member's record is left: %+v", k, h)
			}
		}
		if len(pruned.Handoffs) > k*q {
			t.Errorf("%d nodes: %d records left, more than one per current member and partition (%d)", k, len(pruned.Handoffs), k*q)
		}
		if prunedSize >= keptSize {
			t.Errorf("%d nodes: forgetting left the state at %d B, not below %d B", k, prunedSize, keptSize)
		}
		if !reflect.DeepEqual(ring.NewPlan(q, n, kept).Table, ring.NewPlan(q, n, pruned).Table) {
			t.Errorf("%d nodes: forgetting changed the table", k)
		}
	}
}
