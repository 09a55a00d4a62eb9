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

// TestMachine_FinishesAHalving: a resize to half the count starts a
// halving, which aligns the sibling pairs; the node does not merge while
// the align's transfers are under way, nor while a peer routes by an
// older ring, and merges once the records are done and every live node
// has its ring: the ring then has half the partitions, every partition on
// replicas that received both halves, settled at once.
func TestMachine_FinishesAHalving(t *testing.T) {
	ids := []string{"a", "b", "c", "d", "e"}
	var base ring.State
	for _, id := range ids {
		base = base.Join(ring.Member{ID: id})
	}
	q := testShape.Partitions
	// Grown to 4q first: the configured count is the least there is.
	base, err := settled(base).SettleHandoffs().Resize(q, testShape.N, 4*q)
	if err != nil {
		t.Fatal(err)
	}
	base = settled(base).SettleHandoffs()
	peersOn := func(s ring.State) []Peer {
		var out []Peer
		for _, id := range ids {
			out = append(out, Peer{ID: id, Shape: testShape, Alive: true, Ring: MarkOf(s).String(), SettlesHandoffs: true, CompactsRing: true, ResizesRing: true})
		}
		return out
	}
	m := New(Config{Self: ring.Member{ID: "a"}, Shape: testShape, ResizesRing: true})
	m.Start(base)
	m.Gossip(Gossip{Peer: "b", Shape: testShape, State: base}, time.Unix(0, 0))
	m.SetMembers(peersOn(base))
	if _, err := m.Resize(2 * q); err != nil {
		t.Fatal(err)
	}
	halving := m.State()
	if halving.Halving() != 2*q || halving.Partitions(q) != 4*q || m.Plan().Settled() {
		t.Fatalf("after the resize: halving to %d, %d partitions, plan settled %v: the test wants pairs to align", halving.Halving(), halving.Partitions(q), m.Plan().Settled())
	}
	aligned := m.Plan()
	// The align's transfers done, but a peer still routes by the ring
	// before them: no merge yet.
	done := settled(halving)
	m.Gossip(Gossip{Peer: "b", Shape: testShape, State: done}, time.Unix(1, 0))
	stale := peersOn(done)
	stale[2].Ring = MarkOf(base).String()
	m.SetMembers(stale)
	if m.State().Partitions(q) != 4*q {
		t.Fatalf("merged with a peer on an older ring")
	}
	m.SetMembers(peersOn(m.State()))
	s, pl := m.State(), m.Plan()
	if s.Halving() != 0 || s.Partitions(q) != 2*q || len(pl.Table.Replicas) != 2*q {
		t.Fatalf("once settled: halving to %d, %d partitions, plan of %d", s.Halving(), s.Partitions(q), len(pl.Table.Replicas))
	}
	for p, row := range pl.Slots {
		for _, sl := range row {
			if sl.Since > s.Base.Version {
				continue // a rebalance's placement
			}
			if !sl.Received {
				t.Fatalf("partition %d: %s has not received after the merge", p, sl.Node)
			}
			for _, child := range []int{2 * p, 2*p + 1} {
				found := false
				for _, id := range aligned.Table.Replicas[child] {
					found = found || id == sl.Node
				}
				if !found {
					t.Fatalf("partition %d on %s, which does not hold its half %d (%v)", p, sl.Node, child, aligned.Table.Replicas[child])
				}
			}
		}
	}
}
