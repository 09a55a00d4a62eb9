package entropy

import (
	"slices"
	"testing"

	"github.com/dhtkv/dht/actors/topology"
	"github.com/dhtkv/dht/cluster/membership"
	"github.com/dhtkv/dht/cluster/ring"
	"github.com/dhtkv/dht/internal/antientropy"
)

func snapshot(q, n int, ids ...string) *topology.Snapshot {
	var s ring.State
	for _, id := range ids {
		s = s.Join(ring.Member{ID: id})
	}
	plan := ring.NewPlan(q, n, s)
	return &topology.Snapshot{Self: ids[0], State: s, Table: plan.Table, Plan: plan, Members: map[string]membership.Member{}}
}

func TestViewOf_Converts(t *testing.T) {
	if viewOf(nil) != nil {
		t.Fatal("viewOf(nil) is not nil: the machine would start a round with no ring")
	}
	snap := snapshot(8, 2, "a", "b", "c")
	snap.Members = map[string]membership.Member{
		"a": {ID: "a", Status: membership.StatusAlive},
		"b": {ID: "b", Status: membership.StatusFailed},
		"c": {ID: "c", Status: membership.StatusLeaving},
		"d": {ID: "d", Status: membership.StatusLeft},
	}
	v := viewOf(snap)
	if !slices.Equal(v.Owners, []string{"a", "b", "c"}) {
		t.Errorf("owners %v", v.Owners)
	}
	want := map[string]antientropy.Liveness{"a": antientropy.Alive, "b": antientropy.Down, "c": antientropy.Down, "d": antientropy.Left}
	for id, l := range want {
		if v.Members[id] != l {
			t.Errorf("member %s: %v, want %v", id, v.Members[id], l)
		}
	}
	if len(v.Partitions) != 8 {
		t.Fatalf("%d partitions, want 8", len(v.Partitions))
	}
	for p, part := range v.Partitions {
		serving, pending := snap.Plan.Serving(uint32(p), snap.Alive)
		if !slices.Equal(part.Replicas, append(serving, pending...)) || !slices.Equal(part.Primaries, snap.Table.Preference(uint32(p))) {
			t.Errorf("p%d: %+v, want serving %v pending %v primaries %v", p, part, serving, pending, snap.Table.Preference(uint32(p)))
		}
	}
}

// TestViewOf_HandoffFollowsTheSlots: a lone first member holds all its data;
// members joining later have not received theirs until a handoff record
// says so.
func TestViewOf_HandoffFollowsTheSlots(t *testing.T) {
	for p, part := range viewOf(snapshot(4, 1, "a")).Partitions {
		if part.Handoff {
			t.Errorf("p%d of a lone member: handoff running", p)
		}
	}
	handoffs := 0
	for _, part := range viewOf(snapshot(8, 2, "a", "b")).Partitions {
		if part.Handoff {
			handoffs++
		}
	}
	if handoffs == 0 {
		t.Error("b joined and received nothing, yet no partition has a handoff running")
	}
}
