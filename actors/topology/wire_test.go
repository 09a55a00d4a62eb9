package topology

import (
	"fmt"
	"reflect"
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
