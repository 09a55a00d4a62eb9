package topo

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/dhtkv/dht/cluster/ring"
	"github.com/dhtkv/dht/test/testutil"
)

// TestMachine_Properties drives machines with random events (seeded by
// testutil: -seed replays a failure) and checks, after every step, what
// the actor relies on: a state change is persisted and published, an
// ownership change is reported, a refused command does nothing, and the
// plan is always the state's.
func TestMachine_Properties(t *testing.T) {
	rng := testutil.Rand(t)
	ids := []string{"a", "b", "c", "d", "e"}
	pick := func() string { return ids[rng.IntN(len(ids))] }
	for run := range 50 {
		m := New(Config{Self: ring.Member{ID: "a"}, Shape: testShape, Seeded: rng.IntN(2) == 0})
		m.Start(ring.State{})
		// other is a peer's ring, changed by its own joins and removals.
		other := ring.State{}.Join(ring.Member{ID: pick()})
		now := time.Unix(0, 0)
		for step := range 40 {
			before := m.State()
			var eff Effects
			var err error
			var what string
			switch rng.IntN(7) {
			case 0:
				id := pick()
				other = other.Join(ring.Member{ID: id})
				what = "peer's ring: join " + id
			case 1:
				id := pick()
				other = other.Remove(id)
				what = "peer's ring: remove " + id
			case 2:
				what = "gossip"
				eff = m.Gossip(Gossip{Peer: pick(), Shape: testShape, State: other}, now)
			case 3:
				action := []string{ActionJoin, ActionDecommission, ActionForceRemove}[rng.IntN(3)]
				node := pick()
				what = action + " " + node
				eff, err = m.Command(action, node)
			case 4:
				var peers []Peer
				for _, id := range ids {
					peers = append(peers, Peer{ID: id, Alive: rng.IntN(2) == 0, RemoteAddr: id, Shape: testShape})
				}
				what = "members"
				eff = m.SetMembers(peers)
			case 5:
				what = "join-alone"
				eff = m.JoinAlone()
			case 6:
				what = "handoff-done"
				eff = m.HandoffDone(uint32(rng.IntN(testShape.Partitions)), uint64(1+rng.IntN(10)))
			}
			now = now.Add(time.Second)
			where := fmt.Sprintf("run %d step %d (%s)", run, step, what)
			after := m.State()
			changed := before.Digest() != after.Digest()
			switch {
			case err != nil && (changed || !reflect.DeepEqual(eff, Effects{})):
				t.Fatalf("%s: refused (%v) yet had effects %+v", where, err, eff)
			case changed != eff.Persist:
				t.Fatalf("%s: state changed %v, persist %v", where, changed, eff.Persist)
			case changed && !eff.Publish:
				t.Fatalf("%s: a changed state was not published", where)
			case (before.Version() != after.Version()) != hasRingChange(eff):
				t.Fatalf("%s: version %d -> %d, ring-change event %v", where, before.Version(), after.Version(), hasRingChange(eff))
			}
			if want := ring.NewPlan(testShape.Partitions, testShape.N, after); !reflect.DeepEqual(m.Plan(), want) {
				t.Fatalf("%s: the plan is not the state's", where)
			}
			other = ring.Merge(other, after)
		}
	}
}

func hasRingChange(eff Effects) bool {
	for _, e := range eff.Events {
		if e.Kind == KindRingChange {
			return true
		}
	}
	return false
}
