package topo

import (
	"reflect"
	"slices"
	"strings"
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

// TestMachine_SettlesRecordsOnlyWhenEveryPeerKnowsTheRegister: a settled,
// agreed plan drops every handoff record for the settled register only
// when every peer that may route by the ring announces that it knows the
// register; a live peer of an earlier release (an owner or not) leaves the
// records, and removed members' alone are forgotten then.
func TestMachine_SettlesRecordsOnlyWhenEveryPeerKnowsTheRegister(t *testing.T) {
	done := settled(settled(ring.State{}.Join(ring.Member{ID: "a"}).Join(ring.Member{ID: "b"}).Join(ring.Member{ID: "c"}).Join(ring.Member{ID: "d"})).Remove("d"))
	if !slices.ContainsFunc(done.Handoffs, func(h ring.Handoff) bool { return done.Owner(h.Member) }) {
		t.Fatal("no owner holds a record: nothing to settle, the test is vacuous")
	}
	mark := MarkOf(done).String()
	peers := func(bSettles, joinerAlive, joinerSettles bool, joinerRing string) []Peer {
		return []Peer{
			{ID: "a", Shape: testShape, Alive: true, Ring: mark, SettlesHandoffs: true},
			{ID: "b", Shape: testShape, Alive: true, Ring: mark, SettlesHandoffs: bSettles},
			{ID: "c", Shape: testShape, Alive: true, Ring: mark, SettlesHandoffs: true},
			{ID: "x", Shape: testShape, Alive: joinerAlive, SettlesHandoffs: joinerSettles, Ring: joinerRing},
		}
	}
	for name, ps := range map[string][]Peer{
		"an owner of an earlier release":    peers(false, false, true, ""),
		"a live peer of an earlier release": peers(true, true, false, mark),
	} {
		m := New(Config{Self: ring.Member{ID: "a"}, Shape: testShape})
		m.Start(done)
		m.Gossip(Gossip{Peer: "b", Shape: testShape, State: done}, time.Unix(0, 0))
		m.SetMembers(ps)
		if m.State().HandoffsSettled != 0 || len(m.State().Handoffs) == 0 {
			t.Fatalf("%s: settled the records (register %d, %d records left)", name, m.State().HandoffsSettled, len(m.State().Handoffs))
		}
		if holdsRecordsOf(m.State(), "d") {
			t.Fatalf("%s: the removed member's records were not forgotten either", name)
		}
	}

	m := New(Config{Self: ring.Member{ID: "a"}, Shape: testShape})
	m.Start(done)
	m.Gossip(Gossip{Peer: "b", Shape: testShape, State: done}, time.Unix(0, 0))
	// A peer of an earlier release that left and owns nothing does not
	// hold the register back.
	// A live peer that is not an owner (one about to join) and announces
	// another ring may have joined on it: its join would replay below the
	// register, and count as received. Nothing is settled or forgotten.
	for _, other := range []string{"", MarkOf(done.Remove("c")).String()} {
		m.SetMembers(peers(true, true, true, other))
		if m.State().HandoffsSettled != 0 || !holdsRecordsOf(m.State(), "d") {
			t.Fatalf("a live joiner announcing %q: records settled or forgotten (register %d)", other, m.State().HandoffsSettled)
		}
	}
	eff := m.SetMembers(peers(true, false, false, ""))
	if got := m.State(); len(got.Handoffs) != 0 || got.HandoffsSettled != done.Clock() {
		t.Fatalf("every peer knows the register: %d records left, register %d (clock %d)", len(got.Handoffs), got.HandoffsSettled, done.Clock())
	}
	if !eff.Persist || !eff.Publish || !m.Plan().Settled() || MarkOf(m.State()).String() != mark {
		t.Fatalf("settling did not persist and publish, or changed the plan or the ownership: %+v", eff)
	}
	m.Gossip(Gossip{Peer: "b", Shape: testShape, State: done}, time.Unix(1, 0))
	if len(m.State().Handoffs) != 0 {
		t.Fatal("a peer's gossip brought settled records back")
	}
}

// TestMachine_MakesItsLateChangesAgain: a node restarts with a change
// the cluster never saw, stamped below a register the cluster has since
// settled (a join it made before stopping, or a loss it announces from
// its stored, stale ring). The owner drops the change when it merges the
// node's ring; the node, merging the owner's, sees its change dropped and
// makes it again above the register, with transfers to make.
func TestMachine_MakesItsLateChangesAgain(t *testing.T) {
	base := settled(ring.State{}.Join(ring.Member{ID: "a"}).Join(ring.Member{ID: "b"}).Join(ring.Member{ID: "c"}))
	cluster := settled(base.Join(ring.Member{ID: "d"})).SettleHandoffs()
	if cluster.HandoffsSettled == 0 {
		t.Fatal("the cluster's ring has no register: the test is vacuous")
	}
	for _, tc := range []struct {
		name, self string
		stored     ring.State
		newEpoch   bool
		changed    func(ring.State) bool
	}{
		{"a join made before stopping", "x", base.Join(ring.Member{ID: "x"}), false,
			func(s ring.State) bool { return s.Owner("x") && entryVersion(s, "x") > cluster.HandoffsSettled }},
		{"a loss announced from a stale ring", "c", base, true,
			func(s ring.State) bool { return s.RebuildVersion("c") > cluster.HandoffsSettled }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := New(Config{Self: ring.Member{ID: tc.self}, Shape: testShape, Seeded: true, NewEpoch: tc.newEpoch})
			m.Start(tc.stored)
			late := m.State()
			if late.Clock() > cluster.HandoffsSettled || late.KnowsChangesOf(cluster) {
				t.Fatal("the node's change is not below the register: the test is vacuous")
			}
			owner := New(Config{Self: ring.Member{ID: "a"}, Shape: testShape})
			owner.Start(cluster)
			owner.Gossip(Gossip{Peer: tc.self, Shape: testShape, State: late}, time.Unix(0, 0))
			if !reflect.DeepEqual(owner.State().Members, cluster.Members) {
				t.Fatalf("the owner kept a late change: %+v", owner.State().Members)
			}

			eff := m.Gossip(Gossip{Peer: "a", Shape: testShape, State: owner.State()}, time.Unix(0, 0))
			if !tc.changed(m.State()) {
				t.Fatalf("the node did not make its change again above the register %d: %+v", cluster.HandoffsSettled, m.State().Members)
			}
			if len(m.Plan().Transfers(tc.self)) == 0 {
				t.Fatal("made again, the change has nothing to transfer")
			}
			if !slices.ContainsFunc(eff.Logs, func(l Log) bool { return strings.Contains(l.Msg, "dropped") }) {
				t.Fatalf("no warning logged: %+v", eff.Logs)
			}
			owner.Gossip(Gossip{Peer: tc.self, Shape: testShape, State: m.State()}, time.Unix(1, 0))
			if !tc.changed(owner.State()) || owner.Plan().Settled() {
				t.Fatal("the owner did not keep the change made again, or counts its placements as received")
			}
		})
	}
}

// TestMachine_DropsALateCommand: a decommission broadcast from a ring
// older than the settled register is dropped, and the log says to give it
// again; one made on the settled ring is applied.
func TestMachine_DropsALateCommand(t *testing.T) {
	base := settled(ring.State{}.Join(ring.Member{ID: "a"}).Join(ring.Member{ID: "b"}).Join(ring.Member{ID: "c"}).Join(ring.Member{ID: "d"}))
	cluster := settled(base.Join(ring.Member{ID: "e"})).SettleHandoffs()
	entryAt := func(s ring.State) ring.MemberState {
		e, _ := s.Remove("b").Entry("b")
		return e
	}
	m := New(Config{Self: ring.Member{ID: "a"}, Shape: testShape})
	m.Start(cluster)
	eff := m.RemoteCommand(RemoteCommand{Cluster: testShape.Cluster, Action: ActionDecommission, Entry: entryAt(base)})
	if !m.State().Owner("b") {
		t.Fatal("a decommission made below the settled register was applied")
	}
	if !slices.ContainsFunc(eff.Logs, func(l Log) bool { return strings.Contains(l.Msg, "give it again") }) {
		t.Fatalf("the dropped command was not logged: %+v", eff.Logs)
	}
	m.RemoteCommand(RemoteCommand{Cluster: testShape.Cluster, Action: ActionDecommission, Entry: entryAt(cluster)})
	if m.State().Owner("b") {
		t.Fatal("a decommission made on the settled ring was not applied")
	}
}

func entryVersion(s ring.State, id string) uint64 {
	if e, ok := s.Entry(id); ok {
		return e.JoinVersion
	}
	return 0
}
