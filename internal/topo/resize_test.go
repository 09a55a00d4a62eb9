package topo

import (
	"errors"
	"testing"
	"time"

	"github.com/dhtkv/dht/cluster/ring"
)

// TestMachine_ResizeWaitsForTheCluster: a resize is applied only by a
// node that applies resizes, synced, with its plan settled, every owner up
// and every live node routing by its ring and announcing that it applies
// resizes; then the ring has the new count, its records settled, its
// plan settled at once, and the same replicas for every key. Each refusal
// leaves the ring as it was.
func TestMachine_ResizeWaitsForTheCluster(t *testing.T) {
	base := settled(ring.State{}.Join(ring.Member{ID: "a"}).Join(ring.Member{ID: "b"}).Join(ring.Member{ID: "c"}))
	mark := MarkOf(base).String()
	peer := func(id string) Peer {
		return Peer{ID: id, Shape: testShape, Alive: true, Ring: mark, SettlesHandoffs: true, CompactsRing: true, ResizesRing: true}
	}
	start := func(resizes bool, peers ...Peer) *Machine {
		m := New(Config{Self: ring.Member{ID: "a"}, Shape: testShape, ResizesRing: resizes})
		m.Start(base)
		m.Gossip(Gossip{Peer: "b", Shape: testShape, State: base}, time.Unix(0, 0))
		m.SetMembers(peers)
		return m
	}
	earlier, down, behind := peer("c"), peer("c"), peer("c")
	earlier.ResizesRing = false
	down.Alive = false
	behind.Ring = "elsewhere"
	for name, tc := range map[string]struct {
		m    *Machine
		want error
	}{
		"this node cannot apply one": {start(false, peer("a"), peer("b"), peer("c")), ErrResizeNotYet},
		"a peer cannot apply one":    {start(true, peer("a"), peer("b"), earlier), ErrResizeNotYet},
		"an owner is down":           {start(true, peer("a"), peer("b"), down), ErrResizeNotYet},
		"a peer routes by another":   {start(true, peer("a"), peer("b"), behind), ErrResizeNotYet},
	} {
		before := tc.m.State()
		if _, err := tc.m.Resize(2 * testShape.Partitions); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", name, err, tc.want)
		}
		if tc.m.State().Partitions(testShape.Partitions) != testShape.Partitions || tc.m.State().Digest() != before.Digest() {
			t.Errorf("%s: a refused resize changed the ring", name)
		}
	}

	// A join still moving data: the ring's rule refuses.
	moving := start(true, peer("a"), peer("b"), peer("c"), peer("d"))
	joined := base.Join(ring.Member{ID: "d"})
	moving.Gossip(Gossip{Peer: "d", Shape: testShape, State: joined}, time.Unix(0, 0))
	if _, err := moving.Resize(2 * testShape.Partitions); !errors.Is(err, ring.ErrResizeUnsettled) {
		t.Errorf("with a join moving data: %v, want %v", err, ring.ErrResizeUnsettled)
	}

	m := start(true, peer("a"), peer("b"), peer("c"))
	before := m.Plan()
	eff, err := m.Resize(4 * testShape.Partitions)
	if err != nil {
		t.Fatal(err)
	}
	if !eff.Persist || !eff.Publish || eff.Announce == nil {
		t.Errorf("effects: %s", printEffects(eff))
	}
	s, pl := m.State(), m.Plan()
	if s.Partitions(testShape.Partitions) != 4*testShape.Partitions || len(pl.Table.Replicas) != 4*testShape.Partitions || !pl.Settled() {
		t.Fatalf("after the resize: %d partitions, plan of %d, settled %v", s.Partitions(testShape.Partitions), len(pl.Table.Replicas), pl.Settled())
	}
	if s.HandoffsSettled != s.Clock() || len(s.Handoffs) != 0 {
		t.Errorf("records: settled at %d of clock %d, %d left", s.HandoffsSettled, s.Clock(), len(s.Handoffs))
	}
	for p, ids := range pl.Table.Replicas {
		parent := before.Table.Replicas[p/4]
		for _, id := range ids {
			found := false
			for _, x := range parent {
				found = found || x == id
			}
			if !found {
				t.Fatalf("partition %d on %v, its parent %d on %v", p, ids, p/4, parent)
			}
		}
	}
	// Asked again for the same count, nothing changes.
	if eff, err := m.Resize(4 * testShape.Partitions); err != nil || eff.Persist {
		t.Errorf("resizing to the current count: %v, %s", err, printEffects(eff))
	}
}
