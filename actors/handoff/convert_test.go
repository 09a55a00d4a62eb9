package handoff

import (
	"slices"
	"sync/atomic"
	"testing"

	"github.com/dhtkv/dht/cluster/membership"
	"github.com/dhtkv/dht/cluster/ring"
	"github.com/dhtkv/dht/internal/topo"
	"github.com/dhtkv/dht/internal/transfer"
	"github.com/dhtkv/dht/messages"
)

func TestSnapshotOf_NoRingYet(t *testing.T) {
	if got := snapshotOf("a", nil, nil); got.Partitions != 0 {
		t.Errorf("snapshotOf(nil) = %+v, want no ring", got)
	}
}

func TestSnapshotOf_ReadsThePlan(t *testing.T) {
	// b and c settled; a joins: a must receive its placements from them.
	s := settle(ring.State{}.Join(ring.Member{ID: "b"}).Join(ring.Member{ID: "c"})).Join(ring.Member{ID: "a"})
	snap := snapshotFor("a", s, "b")
	keys := make([]atomic.Int64, partitions)
	for p := range keys {
		keys[p].Store(int64(p)) // partition 0 holds nothing
	}
	got := snapshotOf("a", snap, keys)

	pl := snap.Plan
	if got.Partitions != partitions || got.Version != s.Version() || !got.Synced || got.Settled != pl.Settled() ||
		!got.Owner || got.Removed || got.Involved != pl.Involved("a") {
		t.Errorf("snapshot %+v does not match the plan", got)
	}
	if !slices.Equal(got.Alive, []string{"b"}) {
		t.Errorf("alive %v, want [b] (c is not in gossip; a is self)", got.Alive)
	}
	if len(got.Wanted) != len(pl.Transfers("a")) {
		t.Errorf("wanted %+v, want Plan.Transfers %+v", got.Wanted, pl.Transfers("a"))
	}
	for _, h := range got.Held {
		if h.Partition == 0 {
			t.Errorf("held %+v lists partition 0, which holds no key", got.Held)
		}
		if h.Needed != pl.Needs("a", h.Partition) {
			t.Errorf("partition %d: needed %t, Plan.Needs says %t", h.Partition, h.Needed, !h.Needed)
		}
		if serving, pending := pl.Serving(h.Partition, snap.Alive); !h.Needed && !slices.Equal(h.Replicas, append(serving, pending...)) {
			t.Errorf("partition %d: replicas %v, want serving %v then pending %v", h.Partition, h.Replicas, serving, pending)
		}
	}
	if len(got.Held) != partitions-1 {
		t.Errorf("%d partitions held, want %d", len(got.Held), partitions-1)
	}
}

// TestSnapshotOf_Agreed: the ring counts as agreed only while every live
// peer announces this node's ring mark; a peer that is down does not hold
// it back.
func TestSnapshotOf_Agreed(t *testing.T) {
	s := settle(ring.State{}.Join(ring.Member{ID: "b"}).Join(ring.Member{ID: "c"})).Join(ring.Member{ID: "a"})
	mine := topo.MarkOf(s).String()
	stale := topo.MarkOf(settle(ring.State{}.Join(ring.Member{ID: "b"}).Join(ring.Member{ID: "c"}))).String()
	for _, tc := range []struct {
		name    string
		members map[string]membership.Member
		want    bool
	}{
		{"every live peer announces the ring", map[string]membership.Member{
			"b": {ID: "b", Status: membership.StatusAlive, Ring: mine},
			"c": {ID: "c", Status: membership.StatusAlive, Ring: mine},
		}, true},
		{"a live peer routes by the ring before the join", map[string]membership.Member{
			"b": {ID: "b", Status: membership.StatusAlive, Ring: mine},
			"c": {ID: "c", Status: membership.StatusAlive, Ring: stale},
		}, false},
		{"a live peer announces no ring yet", map[string]membership.Member{
			"b": {ID: "b", Status: membership.StatusAlive, Ring: mine},
			"c": {ID: "c", Status: membership.StatusAlive},
		}, false},
		{"the stale peer is down", map[string]membership.Member{
			"b": {ID: "b", Status: membership.StatusAlive, Ring: mine},
			"c": {ID: "c", Status: membership.StatusFailed, Ring: stale},
		}, true},
		{"self's own entry is not a peer", map[string]membership.Member{
			"a": {ID: "a", Status: membership.StatusAlive, Ring: stale},
			"b": {ID: "b", Status: membership.StatusAlive, Ring: mine},
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			snap := snapshotFor("a", s)
			snap.Members = tc.members
			if got := snapshotOf("a", snap, nil).Agreed; got != tc.want {
				t.Errorf("Agreed = %t, want %t", got, tc.want)
			}
		})
	}
}

func TestSnapshotOf_RemovedNode(t *testing.T) {
	s := settle(ring.State{}.Join(ring.Member{ID: "a"}).Join(ring.Member{ID: "b"}).Join(ring.Member{ID: "c"})).Remove("a")
	got := snapshotOf("a", snapshotFor("a", s, "b", "c"), nil)
	if got.Owner || !got.Removed {
		t.Errorf("owner %t removed %t, want false, true", got.Owner, got.Removed)
	}
}

func TestBatchOf_SizesAndLastKey(t *testing.T) {
	r := &messages.HandoffPullReply{Done: true, TotalKeys: 9, Generation: 4, Entries: []*messages.KeyObject{
		{Key: []byte("k1"), Object: &messages.Object{Siblings: []*messages.Sibling{{Value: []byte("abc"), ContentType: "t"}}}},
		{Key: []byte("k22"), Object: &messages.Object{Siblings: []*messages.Sibling{{Value: []byte("x")}}}},
	}}
	got := batchOf(r)
	want := transfer.Batch{Keys: 2, Bytes: (2 + 3 + 1 + 24) + (3 + 1 + 24), Last: []byte("k22"), Done: true, Total: 9, Generation: 4}
	if got.Keys != want.Keys || got.Bytes != want.Bytes || string(got.Last) != string(want.Last) || got.Done != want.Done ||
		got.Total != want.Total || got.Generation != want.Generation {
		t.Errorf("batchOf = %+v, want %+v", got, want)
	}
	if empty := batchOf(&messages.HandoffPullReply{Done: true}); empty.Keys != 0 || empty.Last != nil || !empty.Done {
		t.Errorf("batchOf(empty) = %+v", empty)
	}
}

func TestErrorReason_CodeAndMessage(t *testing.T) {
	got := errorReason(&messages.ErrorReply{Code: messages.ErrorCode_ERROR_CODE_STORAGE, Message: "disk full"})
	if got != "ERROR_CODE_STORAGE: disk full" {
		t.Errorf("errorReason = %q", got)
	}
}
