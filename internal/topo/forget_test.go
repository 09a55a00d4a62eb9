package topo

import (
	"slices"
	"testing"
	"time"

	"github.com/dhtkv/dht/cluster/ring"
)

// settled returns s with every transfer its plan asks for done.
func settled(s ring.State) ring.State {
	for range 4 {
		pl := ring.NewPlan(testShape.Partitions, testShape.N, s)
		for _, m := range pl.Table.Members {
			for _, tr := range pl.Transfers(m.ID) {
				s = s.CompleteHandoff(m.ID, tr.Partition, tr.Since)
			}
		}
	}
	return s
}

func holdsRecordsOf(s ring.State, id string) bool {
	return slices.ContainsFunc(s.Handoffs, func(h ring.Handoff) bool { return h.Member == id })
}

// TestMachine_ForgetsRemovedMembersRecordsOnceSettledAndAgreed: a
// decommissioned member's handoff records are dropped only when this
// node's plan has settled and every other owner is alive and announces
// this node's ring; then the state persists and publishes without them.
func TestMachine_ForgetsRemovedMembersRecordsOnceSettledAndAgreed(t *testing.T) {
	base := settled(ring.State{}.Join(ring.Member{ID: "a"}).Join(ring.Member{ID: "b"}).Join(ring.Member{ID: "c"}).Join(ring.Member{ID: "d"}))
	removed := base.Remove("d")
	done := settled(removed)
	if !holdsRecordsOf(done, "d") {
		t.Fatal("the removed member has no records: nothing to forget, the test is vacuous")
	}
	mark := MarkOf(done).String()
	peers := func(bRing, cRing string, cAlive bool) []Peer {
		return []Peer{
			{ID: "a", Shape: testShape, Alive: true, Ring: mark},
			{ID: "b", Shape: testShape, Alive: true, Ring: bRing},
			{ID: "c", Shape: testShape, Alive: cAlive, Ring: cRing},
		}
	}

	// Not settled: the heirs of d are still receiving.
	m := New(Config{Self: ring.Member{ID: "a"}, Shape: testShape})
	m.Start(removed)
	m.Gossip(Gossip{Peer: "b", Shape: testShape, State: removed}, time.Unix(0, 0))
	m.SetMembers(peers(MarkOf(removed).String(), MarkOf(removed).String(), true))
	if !holdsRecordsOf(m.State(), "d") {
		t.Fatal("forgot d's records while the plan was not settled")
	}

	m = New(Config{Self: ring.Member{ID: "a"}, Shape: testShape})
	m.Start(done)
	m.Gossip(Gossip{Peer: "b", Shape: testShape, State: done}, time.Unix(0, 0))
	for name, ps := range map[string][]Peer{
		"an owner down":            peers(mark, mark, false),
		"an owner on another ring": peers(mark, MarkOf(base).String(), true),
		"an owner announcing none": peers(mark, "", true),
	} {
		m.SetMembers(ps)
		if !holdsRecordsOf(m.State(), "d") {
			t.Fatalf("%s: forgot d's records without every owner's agreement", name)
		}
	}
	eff := m.SetMembers(peers(mark, mark, true))
	if holdsRecordsOf(m.State(), "d") {
		t.Fatal("settled, every owner agreeing: d's records are still there")
	}
	if !eff.Persist || !eff.Publish {
		t.Fatalf("forgetting did not persist and publish: %+v", eff)
	}
	if !m.Plan().Settled() || MarkOf(m.State()).String() != mark {
		t.Fatal("forgetting changed the plan or the ownership")
	}
	// A peer that still holds the records does not bring them back.
	m.Gossip(Gossip{Peer: "b", Shape: testShape, State: done}, time.Unix(1, 0))
	if holdsRecordsOf(m.State(), "d") {
		t.Fatal("a peer's gossip brought d's forgotten records back")
	}
}
