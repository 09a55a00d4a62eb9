package topology_test

import (
	"testing"

	"github.com/dhtkv/dht/actors/topology"
	"github.com/dhtkv/dht/cluster/ring"
)

// Snapshot.Ready is what a node's read gate asks about its own copy of a
// partition: every copy is ready in a settled three-member ring, none of
// b's after b announced a data loss, and a partition's copy again once b
// records receiving it at the loss's version. A partition b does not
// replicate (a one-member ring's view from b) is b's to serve as a
// stand-in, not its gate's to close.
func TestSnapshot_ReadyFollowsTheRebuild(t *testing.T) {
	const q, n = 8, 3
	var s ring.State
	for _, id := range []string{"a", "b", "c"} {
		s = s.Join(ring.Member{ID: id})
	}
	snap := func(self string, s ring.State) *topology.Snapshot {
		return &topology.Snapshot{Self: self, State: s, Plan: ring.NewPlan(q, n, s)}
	}
	for p := range uint32(q) {
		if !snap("b", s).Ready(p) {
			t.Fatalf("partition %d: b's copy is not ready in a ring of three that lost nothing", p)
		}
	}

	s = s.MarkRebuild("b")
	lost := s.RebuildVersion("b")
	for p := range uint32(q) {
		if snap("b", s).Ready(p) {
			t.Fatalf("partition %d: b's copy is ready right after b lost its data", p)
		}
		if !snap("a", s).Ready(p) {
			t.Fatalf("partition %d: a's copy is not ready, but only b lost its data", p)
		}
	}

	s = s.CompleteHandoff("b", 3, lost)
	for p := range uint32(q) {
		if got, want := snap("b", s).Ready(p), p == 3; got != want {
			t.Fatalf("partition %d: b's copy ready %v after receiving partition 3 again, want %v", p, got, want)
		}
	}

	alone := ring.State{}.Join(ring.Member{ID: "a"})
	if !snap("b", alone).Ready(0) {
		t.Fatal("b's gate closed for a partition b does not replicate")
	}
	if !(&topology.Snapshot{Self: "b"}).Ready(0) {
		t.Fatal("b's gate closed before any plan was computed")
	}
}

// Snapshot.HandedOff closes a decommissioned node's read gate for a
// partition only once, on a synced ring, it has no part in it: while its
// heir receives, it stands in and answers; once the heir has the data, a
// reader that still asks it routes by an older ring, and its copy may be
// dropped. A ring it has not synced decides nothing.
func TestSnapshot_HandedOffAfterTheHeirReceived(t *testing.T) {
	const q, n = 8, 3
	var s ring.State
	for _, id := range []string{"a", "b", "c", "d"} {
		s = s.Join(ring.Member{ID: id})
	}
	s = settle(q, n, s)
	snap := func(s ring.State, synced bool) *topology.Snapshot {
		return &topology.Snapshot{Self: "d", State: s, Plan: ring.NewPlan(q, n, s), Synced: synced}
	}
	held := ring.NewPlan(q, n, s).Table.Holds("d")
	if len(held) == 0 {
		t.Fatal("d holds no partition: the test is vacuous")
	}
	removed := s.Remove("d")
	for _, p := range held {
		if snap(s, true).HandedOff(p) || snap(removed, true).HandedOff(p) {
			t.Fatalf("partition %d: d counts as handed off while it is a replica or stands in for its heir", p)
		}
	}
	done := settle(q, n, removed)
	for _, p := range held {
		if !snap(done, true).HandedOff(p) {
			t.Fatalf("partition %d: d's heir has received it, but d does not count as handed off", p)
		}
		if snap(done, false).HandedOff(p) {
			t.Fatalf("partition %d: d counts as handed off on a ring it has not synced", p)
		}
	}
}

// settle records every transfer s's plan asks for.
func settle(q, n int, s ring.State) ring.State {
	for range 4 {
		pl := ring.NewPlan(q, n, s)
		for _, m := range pl.Table.Members {
			for _, tr := range pl.Transfers(m.ID) {
				s = s.CompleteHandoff(m.ID, tr.Partition, tr.Since)
			}
		}
	}
	return s
}
