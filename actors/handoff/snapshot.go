package handoff

import (
	"fmt"
	"sync/atomic"

	"github.com/dhtkv/dht/actors/topology"
	"github.com/dhtkv/dht/internal/merkle"
	"github.com/dhtkv/dht/internal/topo"
	"github.com/dhtkv/dht/internal/transfer"
	"github.com/dhtkv/dht/messages"
)

// snapshotOf converts a topology snapshot and the local vnodes' key counts
// to what the transfer machine reads. nil (no snapshot yet) gives a
// snapshot without a ring, on which the machine waits.
func snapshotOf(self string, snap *topology.Snapshot, keys []atomic.Int64) transfer.Snapshot {
	if snap == nil || len(snap.Plan.Slots) == 0 {
		return transfer.Snapshot{}
	}
	plan := snap.Plan
	s := transfer.Snapshot{Partitions: len(plan.Slots), Version: snap.State.Version(), Synced: snap.Synced,
		Settled: plan.Settled(), Owner: snap.State.Owner(self), Removed: removed(snap, self), Involved: plan.Involved(self)}
	mark := topo.MarkOf(snap.State).String()
	s.Agreed = true
	for id, m := range snap.Members {
		if id != self && snap.Alive(id) {
			s.Alive = append(s.Alive, id)
			s.Agreed = s.Agreed && m.Ring == mark
		}
	}
	for _, w := range plan.Transfers(self) {
		s.Wanted = append(s.Wanted, transfer.Want{Partition: w.Partition, Since: w.Since, Sources: w.Sources, Rebuild: w.Rebuild})
	}
	for p := range min(len(keys), len(plan.Slots)) {
		if keys[p].Load() == 0 {
			continue
		}
		h := transfer.Held{Partition: uint32(p), Needed: plan.Needs(self, uint32(p))}
		if !h.Needed {
			serving, pending := plan.Serving(uint32(p), snap.Alive)
			h.Replicas = append(serving, pending...)
		}
		s.Held = append(s.Held, h)
	}
	return s
}

// removed reports whether the ring records self as removed.
func removed(snap *topology.Snapshot, self string) bool {
	for _, m := range snap.State.Members {
		if m.ID == self {
			return m.Removed()
		}
	}
	return false
}

// batchOf is what the machine needs of a pulled batch.
func batchOf(r *messages.HandoffPullReply) transfer.Batch {
	entries := r.GetEntries()
	b := transfer.Batch{Keys: len(entries), Done: r.GetDone(), Total: r.GetTotalKeys(), Generation: r.GetGeneration(),
		Answered: int(r.GetKeysAnswered())}
	if len(entries) > 0 {
		b.Last = entries[len(entries)-1].GetKey()
	}
	for _, e := range entries {
		b.Bytes += len(e.GetKey()) + sizeOf(e.GetObject())
	}
	return b
}

// hashesOf is what the machine needs of a Merkle answer.
func hashesOf(r *messages.MerkleReply) transfer.Hashes {
	return transfer.Hashes{Hashes: r.GetHashes(), Shape: merkle.Shape{Fanout: int(r.GetFanout()), Depth: int(r.GetDepth())},
		Generation: r.GetGeneration(), Total: r.GetTotalKeys()}
}

// listingOf is what the machine needs of a bucket listing.
func listingOf(r *messages.BucketKeysReply) []merkle.KeyVersion {
	out := make([]merkle.KeyVersion, len(r.GetKeys()))
	for i, kv := range r.GetKeys() {
		out[i] = merkle.KeyVersion{Key: kv.GetKey(), ValueHash: kv.GetValueHash()}
	}
	return out
}

// sizeOf estimates an object's bytes for progress and metrics.
func sizeOf(o *messages.Object) int {
	n := 0
	for _, s := range o.GetSiblings() {
		n += len(s.GetValue()) + len(s.GetContentType()) + 24
	}
	return n + 12*len(o.GetContext())
}

// errorReason is why an error reply stops a transfer.
func errorReason(e *messages.ErrorReply) string {
	return fmt.Sprintf("%s: %s", e.GetCode(), e.GetMessage())
}
