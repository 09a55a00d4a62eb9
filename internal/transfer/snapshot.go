package transfer

import (
	"slices"
	"time"
)

// Config sets the machine's limits. Every field comes from the node's
// configuration (handoff.transfer_*, handoff.drop_delay).
type Config struct {
	// Self is this node's id.
	Self string
	// Concurrency bounds the transfers running at once, receives and drains
	// together.
	Concurrency int
	// BatchKeys and BatchBytes bound one pulled batch.
	BatchKeys  int
	BatchBytes int
	// DropDelay is how long a partition must have been unneeded before it
	// is drained: long enough for every node to route by the new ring.
	DropDelay time.Duration
	// Timeout bounds each request of a transfer.
	Timeout time.Duration
	// Compare makes a transfer compare the Merkle trees of its source and
	// receivers first, and send only the keys that differ.
	Compare bool
	// AgreementWait is the longest a receive waits, from when the machine
	// first sees it wanted, for every live peer to route by this node's
	// ring (Snapshot.Agreed) before it begins; 0 begins at once. See
	// Snapshot.Agreed for why.
	AgreementWait time.Duration
}

// Snapshot is what the machine needs of one topology snapshot, as plain
// values. The caller computes it from the ring's Plan and gossip.
type Snapshot struct {
	// Partitions is the ring's partition count; 0 means no ring is known
	// yet, and a tick does nothing.
	Partitions int
	// Version is the ring state's version, shown in the Report.
	Version uint64
	// Synced is set once this node has merged a peer's ring since it
	// started: before that the ring may be only what it knew alone, and
	// could say it has no part where it has one, so nothing is drained.
	Synced bool
	// Settled is ring.Plan.Settled, shown in the Report.
	Settled bool
	// Owner is set while this node is an owner in the ring (not removed).
	Owner bool
	// Removed is set when the ring records this node as removed.
	Removed bool
	// Involved is ring.Plan.Involved(Self): it has a part in a partition.
	Involved bool
	// Agreed is set when every live peer announces that it routes by this
	// node's ring (the ownership digest gossip's ring mark carries).
	//
	// A receive waits for it (up to Config.AgreementWait): a peer that
	// still routes by the ring before this node's placement sends the
	// partition's writes to the old replicas only. Pulled before it
	// agrees, such a write can be missing from the copy this node
	// receives, and once this node is ready the old holder stops serving
	// reads (it only pushes the write over at its drain, DropDelay later).
	// When two or three of a partition's replicas move at once (concurrent
	// joins), the new replicas can then make up a read quorum without the
	// write: a false not-found. Once every peer routes by this ring, every
	// later write reaches this node as a pending replica, and every earlier
	// one has reached the sources the receive pulls from.
	Agreed bool
	// Alive lists the other nodes gossip sees alive. Self is always alive.
	Alive []string
	// Wanted is ring.Plan.Transfers(Self): the placements this node must
	// still receive, in partition order.
	Wanted []Want
	// Held lists the partitions this node holds data of.
	Held []Held
}

// Want is a placement this node must receive (ring.Transfer).
type Want struct {
	Partition uint32
	// Since is the placement's ring version; Done reports it back.
	Since uint64
	// Sources hold the data, best first. Empty when nobody does: then this
	// node has every key there is, and the placement is done at once.
	Sources []string
	// Rebuild is set when this node receives the partition again because
	// it lost its data (ring.Transfer.Rebuild); the Report counts them.
	Rebuild bool
}

// Held is a partition this node holds data of.
type Held struct {
	Partition uint32
	// Needed is ring.Plan.Needs(Self, Partition): this node keeps it.
	Needed bool
	// Replicas are the members a drain pushes to: ring.Plan.Serving's
	// serving then pending members. Only read when Needed is false.
	Replicas []string
}

// known reports whether the snapshot carries a ring at all.
func (s Snapshot) known() bool { return s.Partitions > 0 }

// alive returns the set of nodes that can be sent requests.
func (s Snapshot) alive(self string) map[string]bool {
	set := make(map[string]bool, len(s.Alive)+1)
	for _, id := range s.Alive {
		set[id] = true
	}
	set[self] = true
	return set
}

// wants reports whether the snapshot still asks for placement (p, since).
func (s Snapshot) wants(p uint32, since uint64) bool {
	return slices.ContainsFunc(s.Wanted, func(w Want) bool { return w.Partition == p && w.Since == since })
}

// held returns Held in partition order.
func (s Snapshot) held() []Held {
	out := slices.Clone(s.Held)
	slices.SortFunc(out, func(a, b Held) int { return cmpUint32(a.Partition, b.Partition) })
	return out
}

func cmpUint32(a, b uint32) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
