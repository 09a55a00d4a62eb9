package topo

import (
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"testing"
	"time"

	"github.com/dhtkv/dht/cluster/ring"
	"github.com/dhtkv/dht/test/testutil"
)

func started(t *testing.T, self string, seeded bool, stored string) *Machine {
	t.Helper()
	m := New(Config{Self: ring.Member{ID: self}, Shape: testShape, Seeded: seeded})
	var loaded ring.State
	if stored != "" {
		loaded = parseState(t, stored)
	}
	m.Start(loaded)
	return m
}

func TestMachine_Start(t *testing.T) {
	for _, tc := range []struct {
		name     string
		seeded   bool
		stored   string
		owner    bool
		awaiting bool
		warned   bool
	}{
		{name: "no seeds: a cluster of its own", owner: true},
		{name: "seeded, never owned: waits", seeded: true, awaiting: true},
		{name: "seeded owner: keeps its place", seeded: true, stored: "a join=1\nb join=2", owner: true},
		{name: "seeded, removed: stays removed", seeded: true, stored: "a join=1 removed=3\nb join=2", warned: true},
		{name: "no seeds, removed: rejoins", stored: "a join=1 removed=3\nb join=2", owner: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := New(Config{Self: ring.Member{ID: "a"}, Shape: testShape, Seeded: tc.seeded})
			var loaded ring.State
			if tc.stored != "" {
				loaded = parseState(t, tc.stored)
			}
			eff := m.Start(loaded)
			if !eff.Persist || !eff.Publish {
				t.Errorf("Start must persist and publish its first state: %+v", eff)
			}
			if got := m.State().Owner("a"); got != tc.owner {
				t.Errorf("owner = %v, want %v", got, tc.owner)
			}
			if m.AwaitingJoin() != tc.awaiting {
				t.Errorf("awaiting join = %v, want %v", m.AwaitingJoin(), tc.awaiting)
			}
			if got := hasLog(eff, slog.LevelWarn, "this node was removed from the ring (decommissioned or force-removed); it owns nothing until `dhtctl join` asks it to rejoin"); got != tc.warned {
				t.Errorf("warned removed = %v, want %v", got, tc.warned)
			}
			if m.Synced() {
				t.Error("synced before any gossip")
			}
		})
	}
}

func TestMachine_Command(t *testing.T) {
	const ring4 = "a join=1\nb join=2\nc join=3\nd join=4"
	for _, tc := range []struct {
		name, action, node string
		rule               error
	}{
		{"decommission", ActionDecommission, "b", nil},
		{"force-remove a down node", ActionForceRemove, "d", nil},
		{"force-remove a live node", ActionForceRemove, "c", ring.ErrAlive},
		{"force-remove itself", ActionForceRemove, "a", ring.ErrRemoveSelf},
		{"unknown member", ActionDecommission, "x", ring.ErrNotMember},
		{"join another", ActionJoin, "b", ring.ErrJoinOther},
		{"unknown action", "rename", "b", ErrUnknownAction},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := started(t, "a", false, ring4)
			m.SetMembers([]Peer{{ID: "c", Alive: true, Shape: testShape}, {ID: "d", Shape: testShape}})
			if _, err := m.Command(tc.action, tc.node); !errors.Is(err, ErrUnsynced) {
				t.Fatalf("before any gossip, with c alive: err = %v, want %v", err, ErrUnsynced)
			}
			m.Gossip(Gossip{Peer: "c", Shape: testShape, State: m.State()}, time.Unix(0, 0))
			before := m.State()
			eff, err := m.Command(tc.action, tc.node)
			if tc.rule != nil {
				if !errors.Is(err, tc.rule) {
					t.Fatalf("err = %v, want %v", err, tc.rule)
				}
				if !reflect.DeepEqual(eff, Effects{}) || m.State().Digest() != before.Digest() {
					t.Errorf("a refused command had effects %+v", eff)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if m.State().Owner(tc.node) {
				t.Errorf("%s still owns replicas", tc.node)
			}
			want := &Broadcast{Action: tc.action, Entry: ring.MemberState{ID: tc.node, JoinVersion: before.Members[indexOf(before, tc.node)].JoinVersion, RemoveVersion: 5}}
			if !eff.Persist || !eff.Publish || !reflect.DeepEqual(eff.Broadcast, want) {
				t.Errorf("effects %+v, want persist, publish and broadcast %+v", eff, want)
			}
		})
	}
}

func indexOf(s ring.State, id string) int {
	for i, m := range s.Members {
		if m.ID == id {
			return i
		}
	}
	return -1
}

func TestMachine_Gossip(t *testing.T) {
	for _, tc := range []struct {
		name    string
		self    string
		seeded  bool
		stored  string
		g       Gossip
		owners  []string
		respond bool
	}{
		{name: "a member's news is merged", self: "a", stored: "a join=1\nb join=2",
			g:      Gossip{Peer: "b", Shape: testShape, State: parseState(t, "a join=1\nb join=2\nc join=3")},
			owners: []string{"a", "b", "c"}},
		{name: "a sender that lacks something is answered", self: "a", stored: "a join=1\nb join=2\nc join=3",
			g:      Gossip{Peer: "b", Shape: testShape, State: parseState(t, "a join=1\nb join=2")},
			owners: []string{"a", "b", "c"}, respond: true},
		{name: "an outsider announces only itself", self: "a", stored: "a join=1\nb join=2",
			g:      Gossip{Peer: "x", Shape: testShape, State: parseState(t, "a join=1 removed=4\nb join=2\nx join=3")},
			owners: []string{"a", "b", "x"}, respond: true},
		{name: "a node that owns nothing takes the ring whole", self: "c", seeded: true,
			g:      Gossip{Peer: "x", Shape: testShape, State: parseState(t, "a join=1 removed=4\nb join=2\nx join=3")},
			owners: []string{"b", "c", "x"}},
		{name: "another cluster is ignored", self: "a", stored: "a join=1",
			g:      Gossip{Peer: "b", Shape: ring.Shape{Cluster: "d", Partitions: 8, N: 3}, State: parseState(t, "a join=1\nb join=2")},
			owners: []string{"a"}},
		{name: "a malformed state is ignored", self: "a", stored: "a join=1",
			g:      Gossip{Peer: "b", Shape: testShape, Err: errors.New("bad")},
			owners: []string{"a"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := started(t, tc.self, tc.seeded, tc.stored)
			eff := m.Gossip(tc.g, time.Unix(0, 0))
			var owners []string
			for _, o := range m.State().Owners() {
				owners = append(owners, o.ID)
			}
			if !reflect.DeepEqual(owners, tc.owners) {
				t.Errorf("owners = %v, want %v", owners, tc.owners)
			}
			if eff.Respond != tc.respond {
				t.Errorf("respond = %v, want %v", eff.Respond, tc.respond)
			}
		})
	}
}

// TestMachine_GossipDigest: a peer's periodic gossip is only the digest of
// its state. The same digest asks nothing and counts as synced; another
// digest, in either direction of difference, asks for this node's state,
// and changes nothing here until the peer answers with its own.
func TestMachine_GossipDigest(t *testing.T) {
	const stored = "a join=1\nb join=2"
	for _, tc := range []struct {
		name    string
		theirs  string
		shape   ring.Shape
		respond bool
		synced  bool
	}{
		{name: "the same state", theirs: stored, shape: testShape, synced: true},
		{name: "the peer knows more", theirs: stored + "\nc join=3", shape: testShape, respond: true},
		{name: "the peer knows less", theirs: "a join=1", shape: testShape, respond: true},
		{name: "another cluster", theirs: stored, shape: ring.Shape{Cluster: "d", Partitions: 8, N: 3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := started(t, "a", false, stored)
			before := m.State()
			eff := m.Gossip(Gossip{Peer: "b", Shape: tc.shape, DigestOnly: true, Digest: parseState(t, tc.theirs).Digest()}, time.Unix(0, 0))
			if eff.Respond != tc.respond {
				t.Errorf("respond = %v, want %v", eff.Respond, tc.respond)
			}
			if m.Synced() != tc.synced || eff.Publish != tc.synced {
				t.Errorf("synced %v, publish %v; want both %v", m.Synced(), eff.Publish, tc.synced)
			}
			if !reflect.DeepEqual(m.State(), before) || eff.Persist {
				t.Errorf("a digest changed the state: %+v, persist %v", m.State(), eff.Persist)
			}
		})
	}
}

func TestMachine_SetMembers(t *testing.T) {
	m := started(t, "a", false, "")
	eff := m.SetMembers([]Peer{
		{ID: "b", Alive: true, RemoteAddr: "b:1", Shape: testShape},
		{ID: "b", Alive: false, RemoteAddr: "b:2", Shape: testShape},
		{ID: "e", Alive: true, Shape: ring.Shape{Cluster: "other", Partitions: 8, N: 3}},
		{ID: "f", Shape: ring.Shape{Cluster: "c", Partitions: 8, N: 5}},
	})
	if !eff.Publish || len(eff.Logs) != 1 {
		t.Errorf("effects %+v: want publish and one warning (the live incompatible peer)", eff)
	}
	if !m.Known("b") || m.Known("e") || m.Known("f") {
		t.Errorf("known: b=%v e=%v f=%v; want only b", m.Known("b"), m.Known("e"), m.Known("f"))
	}
	if m.alive("b") {
		t.Error("the last report of b (down) must win")
	}
}

// TestMachine_TickPicksALiveCompatiblePeer draws many ticks with a seeded
// source: every pick is a candidate, and every candidate is picked.
func TestMachine_TickPicksALiveCompatiblePeer(t *testing.T) {
	m := started(t, "a", false, "")
	var peers []Peer
	for i := range 6 {
		id := fmt.Sprintf("n%d", i)
		peers = append(peers, Peer{ID: id, RemoteAddr: id + ":1", Alive: i%2 == 0, Shape: testShape})
	}
	peers = append(peers, Peer{ID: "a", RemoteAddr: "a:1", Alive: true, Shape: testShape})
	m.SetMembers(peers)
	rng := testutil.Rand(t)
	seen := map[string]int{}
	for range 300 {
		seen[m.Tick(rng).GossipTo]++
	}
	want := []string{"n0:1", "n2:1", "n4:1"}
	if len(seen) != len(want) {
		t.Fatalf("picked %v, want each of %v", seen, want)
	}
	for _, addr := range want {
		if seen[addr] == 0 {
			t.Errorf("never picked %s: %v", addr, seen)
		}
	}
}

// TestMachine_DigestEndsTheWaitToJoin: seeded nodes of a new cluster wait
// to join until the cluster's ring arrives; when they all hold the same
// (empty) ring, gossip carries only equal digests, and one of those must
// end the wait as a full state would, or no node would ever join.
// TestMachine_EmptyDigestFromAnotherJoinerDoesNotEndTheWait: two nodes join
// a running cluster at once. Before either has the cluster's ring, the
// other's digest (of its empty ring) equals its own; joining on it would put
// this join first in the ownership history and reshuffle the whole ring
// once merged. While a live peer announces a ring with members, the node
// waits for that ring, and joins on top of it when it arrives.
func TestMachine_EmptyDigestFromAnotherJoinerDoesNotEndTheWait(t *testing.T) {
	cluster := ring.State{}.Join(ring.Member{ID: "a"}).Join(ring.Member{ID: "b"})
	m := New(Config{Self: ring.Member{ID: "d"}, Shape: testShape, Seeded: true})
	m.Start(ring.State{})
	m.SetMembers([]Peer{
		{ID: "a", Shape: testShape, Alive: true, Ring: MarkOf(cluster).String()},
		{ID: "e", Shape: testShape, Alive: true}, // the other joiner: no ring yet
	})
	eff := m.Gossip(Gossip{Peer: "e", Shape: testShape, DigestOnly: true, Digest: ring.State{}.Digest(), SenderUnsynced: true}, time.Unix(0, 0))
	if !m.AwaitingJoin() || m.State().Owner("d") {
		t.Fatalf("after the other joiner's empty digest: awaiting %v, owner %v; want still waiting", m.AwaitingJoin(), m.State().Owner("d"))
	}
	if eff.Respond {
		t.Fatal("a joiner answered another joiner's digest with its empty ring")
	}
	if m.Synced() {
		t.Fatal("another joiner's empty digest counted as the cluster's ring: synced")
	}
	// Nor does the other joiner's empty ring end the wait when it comes
	// whole (an answer to this node's own unsynced digest).
	m.Gossip(Gossip{Peer: "e", Shape: testShape, State: ring.State{}}, time.Unix(0, 0))
	if !m.AwaitingJoin() || m.State().Owner("d") {
		t.Fatalf("after the other joiner's empty full state: awaiting %v, owner %v; want still waiting", m.AwaitingJoin(), m.State().Owner("d"))
	}
	if m.Synced() {
		t.Fatal("another joiner's empty full state counted as the cluster's ring: synced")
	}
	m.Gossip(Gossip{Peer: "a", Shape: testShape, State: cluster}, time.Unix(1, 0))
	if m.AwaitingJoin() || !m.State().Owner("d") {
		t.Fatalf("after the cluster's ring: awaiting %v, owner %v; want joined", m.AwaitingJoin(), m.State().Owner("d"))
	}
	if !m.Synced() {
		t.Fatal("the cluster's ring arrived and the node is not synced")
	}
	if got, first := m.State().History(), cluster.History(); got[0] != first[0] || got[len(got)-1].Member.ID != "d" {
		t.Errorf("history %v: want the cluster's events first and d's join last", got)
	}
}

func TestMachine_DigestEndsTheWaitToJoin(t *testing.T) {
	m := New(Config{Self: ring.Member{ID: "c"}, Shape: testShape, Seeded: true})
	m.Start(ring.State{})
	if !m.AwaitingJoin() {
		t.Fatal("a new seeded node does not wait to join")
	}
	eff := m.Gossip(Gossip{Peer: "a", Shape: testShape, DigestOnly: true, Digest: ring.State{}.Digest()}, time.Unix(0, 0))
	if m.AwaitingJoin() || !m.State().Owner("c") || !eff.Persist || !eff.Publish {
		t.Fatalf("after an equal digest: awaiting %v, owner %v, persist %v, publish %v; want joined", m.AwaitingJoin(), m.State().Owner("c"), eff.Persist, eff.Publish)
	}
}

// TestMachine_UnsyncedSenderIsAnsweredOnAnEqualDigest: a node restarted
// with its stored ring refuses requests until it has merged a peer's ring.
// When its ring is the cluster's, its digest gossip meets equal digests;
// a peer answers it with its full state all the same (the sender said it
// has not synced), and the restarted node is synced by that answer. A
// synced sender's equal digest is not answered: converged nodes exchange
// one message an interval.
func TestMachine_UnsyncedSenderIsAnsweredOnAnEqualDigest(t *testing.T) {
	cluster := ring.State{}.Join(ring.Member{ID: "a"}).Join(ring.Member{ID: "b"})
	peer := New(Config{Self: ring.Member{ID: "a"}, Shape: testShape})
	peer.Start(cluster)
	restarted := New(Config{Self: ring.Member{ID: "b"}, Shape: testShape})
	restarted.Start(cluster)
	if restarted.Synced() {
		t.Fatal("a node restarted with its stored ring is synced before any gossip")
	}
	digest := Gossip{Peer: "b", Shape: testShape, DigestOnly: true, Digest: cluster.Digest()}
	if eff := peer.Gossip(digest, time.Unix(0, 0)); eff.Respond {
		t.Fatal("a synced sender's equal digest was answered with the full state")
	}
	digest.SenderUnsynced = true
	if eff := peer.Gossip(digest, time.Unix(1, 0)); !eff.Respond {
		t.Fatal("an unsynced sender's equal digest was not answered")
	}
	eff := restarted.Gossip(Gossip{Peer: "a", Shape: testShape, State: peer.State()}, time.Unix(2, 0))
	if !restarted.Synced() || !eff.Publish || eff.Respond {
		t.Fatalf("after the answer: synced %v, publish %v, respond %v; want synced, published, no answer back", restarted.Synced(), eff.Publish, eff.Respond)
	}
}
