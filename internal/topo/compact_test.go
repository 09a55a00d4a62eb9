package topo

import (
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/dhtkv/dht/cluster/ring"
)

// churned returns a settled ring of a, b and c that has seen k other
// members join and be decommissioned, one after another.
func churned(k int) ring.State {
	s := settled(ring.State{}.Join(ring.Member{ID: "a"}).Join(ring.Member{ID: "b"}).Join(ring.Member{ID: "c"}))
	for i := range k {
		id := fmt.Sprintf("gone%02d", i)
		s = settled(settled(s.Join(ring.Member{ID: id})).Remove(id))
	}
	return s
}

// stateSize stands in for the size of a state's wire form (the topology
// actor measures the real one): a handful of bytes per entry, span and
// record, and a base's members, zones and packed slots.
func stateSize(s ring.State) int {
	size := 0
	for _, m := range s.Members {
		size += 8 + len(m.ID) + len(m.Zone) + 6*len(m.Past)
	}
	size += 8 * len(s.Handoffs)
	if b := s.Base; b != nil {
		size += 8 + 2*len(b.Zones) + 4*len(b.Nodes) + len(b.Slots)/4
		for _, nd := range b.Nodes {
			size += len(nd.ID)
		}
	}
	return size
}

// TestMachine_CompactsOnlyWhenEveryPeerKnowsTheBase: a settled, agreed
// ring whose removed members' entries outweigh a base (and only such a
// ring) is compacted, the
// entries dropped, only when every live peer announces that it knows the
// base, and never while one of the members it would drop is alive (a
// decommissioned node still up reads its removal from its entry).
// Compacting keeps the ring version, the table and the plan.
func TestMachine_CompactsOnlyWhenEveryPeerKnowsTheBase(t *testing.T) {
	done := churned(12)
	mark := MarkOf(done).String()
	peers := func(bCompacts, goneAlive bool) []Peer {
		return []Peer{
			{ID: "a", Shape: testShape, Alive: true, Ring: mark, SettlesHandoffs: true, CompactsRing: true},
			{ID: "b", Shape: testShape, Alive: true, Ring: mark, SettlesHandoffs: true, CompactsRing: bCompacts},
			{ID: "c", Shape: testShape, Alive: true, Ring: mark, SettlesHandoffs: true, CompactsRing: true},
			{ID: "gone03", Shape: testShape, Alive: goneAlive, Ring: mark, SettlesHandoffs: true, CompactsRing: true},
		}
	}
	start := func() *Machine {
		m := New(Config{Self: ring.Member{ID: "a"}, Shape: testShape, StateSize: stateSize})
		m.Start(done)
		m.Gossip(Gossip{Peer: "b", Shape: testShape, State: done}, time.Unix(0, 0))
		return m
	}
	for name, ps := range map[string][]Peer{
		"a peer of an earlier release": peers(false, false),
		"a removed member still up":    peers(true, true),
	} {
		m := start()
		m.SetMembers(ps)
		if got := m.State(); got.Base != nil || got.HandoffsSettled == 0 {
			t.Fatalf("%s: base %v, register %d: want the records settled and no base", name, got.Base, got.HandoffsSettled)
		}
	}
	// One removed member's entry does not outweigh a base: nothing is
	// compacted.
	few := churned(1)
	small := New(Config{Self: ring.Member{ID: "a"}, Shape: testShape, StateSize: stateSize})
	small.Start(few)
	small.Gossip(Gossip{Peer: "b", Shape: testShape, State: few}, time.Unix(0, 0))
	fewMark := MarkOf(few).String()
	small.SetMembers([]Peer{
		{ID: "a", Shape: testShape, Alive: true, Ring: fewMark, SettlesHandoffs: true, CompactsRing: true},
		{ID: "b", Shape: testShape, Alive: true, Ring: fewMark, SettlesHandoffs: true, CompactsRing: true},
		{ID: "c", Shape: testShape, Alive: true, Ring: fewMark, SettlesHandoffs: true, CompactsRing: true},
	})
	if got := small.State(); got.Base != nil || got.HandoffsSettled == 0 || stateSize(got.Compact(testShape.Partitions, testShape.N)) < stateSize(got) {
		t.Fatalf("one removed member: base %v, register %d: want the records settled and no base (a base would not be smaller)", got.Base, got.HandoffsSettled)
	}

	m := start()
	tableBefore := ring.NewPlan(testShape.Partitions, testShape.N, done).Table
	eff := m.SetMembers(peers(true, false))
	got := m.State()
	if got.Base == nil {
		t.Fatalf("every peer knows the base and %d removed entries outweigh it: not compacted", len(done.Members)-3)
	}
	if len(got.Members) != 3 {
		t.Fatalf("compacted state keeps %d entries, want the 3 owners", len(got.Members))
	}
	if got.Version() != done.Version() || !m.Plan().Settled() {
		t.Fatalf("compacting changed the version (%d, was %d) or unsettled the plan", got.Version(), done.Version())
	}
	if tbl := m.Plan().Table; fmt.Sprint(tbl.Replicas) != fmt.Sprint(tableBefore.Replicas) {
		t.Fatal("compacting changed the table")
	}
	if !eff.Persist || !eff.Publish {
		t.Fatalf("compacting did not persist and publish: %+v", eff)
	}
	// A peer with the whole history does not bring the entries back.
	m.Gossip(Gossip{Peer: "b", Shape: testShape, State: done}, time.Unix(1, 0))
	if len(m.State().Members) != 3 {
		t.Fatal("a peer's gossip brought dropped entries back")
	}
}

// TestMachine_RemovedWhileDownStaysOutAfterCompaction: a node
// decommissioned while it was down, whose entry a base then dropped,
// comes back with a ring that says it owns replicas. It does not join
// again on its own (that would undo the removal): it says it was removed
// and owns nothing.
func TestMachine_RemovedWhileDownStaysOutAfterCompaction(t *testing.T) {
	stored := churned(12).Join(ring.Member{ID: "x"})
	stored = settled(stored)
	cluster := settled(stored.Remove("x")).SettleHandoffs().CompactIfSmaller(testShape.Partitions, testShape.N, stateSize)
	if cluster.Base == nil {
		t.Fatal("the cluster's ring has no base: the test is vacuous")
	}
	if _, ok := cluster.Entry("x"); ok {
		t.Fatal("the base kept x's entry: the test is vacuous")
	}
	m := New(Config{Self: ring.Member{ID: "x"}, Shape: testShape, Seeded: true})
	m.Start(stored)
	eff := m.Gossip(Gossip{Peer: "a", Shape: testShape, State: cluster}, time.Unix(0, 0))
	if m.State().Owner("x") {
		t.Fatalf("the removed node joined again on its own: %+v", m.State().Members)
	}
	if len(eff.Logs) == 0 || eff.Logs[0].Level != slog.LevelWarn || !strings.Contains(eff.Logs[0].Msg, "was removed from the ring") {
		t.Fatalf("the first log does not say the node was removed: %+v", eff.Logs)
	}
}
