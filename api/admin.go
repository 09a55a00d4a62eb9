package api

import (
	"math"
	"time"
)

// Paths of the admin API.
const (
	MembersPath      = "/admin/members"
	RingPath         = "/admin/ring"
	StatusPath       = "/admin/status"
	JoinPath         = "/admin/join"
	DecommissionPath = "/admin/decommission"
	ForceRemovePath  = "/admin/force-remove"
	// ResizePath grows the ring's partition count online
	// (ResizeRequest).
	ResizePath = "/admin/resize"
	EventsPath = "/admin/events"
	// BackupPath streams a backup of the node's stored objects
	// (persistence.WriteBackup's format).
	BackupPath = "/admin/backup"
)

// Member statuses, as Member.Status reports them. Other values may appear
// in later versions; a reader treats them as unknown rather than as errors.
const (
	MemberAlive = "alive"
	// MemberDown is a node that failed: it stays an owner, and its replicas
	// are covered by fallbacks, until it returns or is force-removed.
	MemberDown    = "down"
	MemberLeaving = "leaving"
	MemberLeft    = "left"
	MemberRemoved = "removed"
)

// Member is one node of the cluster as GET /admin/members shows it.
type Member struct {
	ID   string `json:"id"`
	Zone string `json:"zone,omitempty"`
	// Status is one of the Member* constants.
	Status string `json:"status"`
	// Owner is set when the node holds replicas in the ring; a down node
	// stays an owner until it returns or is force-removed.
	Owner bool `json:"owner"`
	// HTTPAddr is the host:port of the node's HTTP API, as it advertises it.
	HTTPAddr string `json:"http_addr,omitempty"`
	// RemoteAddr is the host:port of the node's actor remote (gRPC) server.
	RemoteAddr string `json:"remote_addr,omitempty"`
	// Replicas is how many partition replicas the node holds.
	Replicas int `json:"replicas"`
	// Self marks the node that answered.
	Self bool `json:"self,omitempty"`
}

// Members is the body of GET /admin/members: every member, sorted by id.
type Members struct {
	Members []Member `json:"members"`
}

// Ring is the partition ring as the answering node routes by it, the body
// of GET /admin/ring.
type Ring struct {
	// Partitions is Q, the number of equal arcs of the 128-bit hash ring;
	// partition p starts at p·2¹²⁸/Q. It is 0 while the node knows no ring.
	Partitions int `json:"partitions"`
	// N is the replication factor.
	N int `json:"n"`
	// Version is the ring state's clock: it grows with every change, so of
	// two answers the one with the higher version is newer.
	Version uint64 `json:"version"`
	// Replicas holds, for each partition, the ids of the nodes holding it,
	// in preference order (the first is the primary coordinator). It has
	// exactly Partitions entries.
	Replicas [][]string `json:"replicas"`
}

// Status is one node's background work, the body of GET /admin/status.
type Status struct {
	Node string `json:"node"`
	// HintsPending maps each target node to the hints kept for it on Node.
	HintsPending map[string]int `json:"hints_pending"`
	HintsBytes   int64          `json:"hints_bytes"`
	// MerkleRoots maps each partition Node holds to the root of its Merkle
	// tree: replicas that agree have equal roots.
	MerkleRoots Roots `json:"merkle_roots"`
	// Handoff is Node's part in ownership changes.
	Handoff Handoff `json:"handoff"`
}

// Handoff is a node's ownership handoff work: partitions it must receive
// because claim gave it a replica, and partitions it no longer owns and
// hands back (drains) before dropping its copy.
type Handoff struct {
	// Pending counts the partitions still to receive, running or waiting
	// for a transfer slot.
	Pending int `json:"pending"`
	// Rebuilding counts the partitions of Pending that Node receives again
	// because it lost its data (it started with empty storage while it
	// owned replicas). Until a partition is received, Node takes its
	// writes but the other replicas serve its reads.
	Rebuilding int `json:"rebuilding"`
	// Draining counts the partitions the node no longer owns but still
	// holds data of.
	Draining int `json:"draining"`
	// Active lists the running transfers, at most handoff.concurrency.
	Active []Transfer `json:"active"`
	// Completed counts transfers finished since the node started that
	// moved at least one key (dht_handoff_transfers_total counts them all).
	Completed uint64 `json:"completed"`
	// ETASeconds estimates the seconds until Pending and Draining reach
	// zero at the current rate; 0 when idle or unknown. See ETA.
	ETASeconds float64 `json:"eta_seconds"`
	// RingVersion is the version of the ring (Ring.Version) these figures
	// were computed against: figures that lag the node's ring have not
	// looked at the latest change yet.
	RingVersion uint64 `json:"ring_version"`
	// Settled is set when, as far as the node knows, every replica of
	// every partition has its data: no transfer is left anywhere.
	Settled bool `json:"settled"`
}

// ETA returns ETASeconds as a duration rounded to the second; 0 means idle
// or unknown.
func (h Handoff) ETA() time.Duration {
	if h.ETASeconds <= 0 || math.IsNaN(h.ETASeconds) {
		return 0
	}
	if h.ETASeconds >= math.MaxInt64/float64(time.Second) {
		return time.Duration(math.MaxInt64).Round(time.Second)
	}
	return time.Duration(h.ETASeconds * float64(time.Second)).Round(time.Second)
}

// Transfer kinds, as Transfer.Kind reports them.
const (
	TransferReceive = "receive" // pulling a partition from a replica
	TransferDrain   = "drain"   // pushing a partition to its new owners before dropping it
)

// Transfer is one running partition transfer.
type Transfer struct {
	Partition uint32 `json:"partition"`
	// Kind is TransferReceive or TransferDrain.
	Kind string `json:"kind"`
	// Peer is the source of a receive, the target of a drain.
	Peer string `json:"peer"`
	// Keys and Bytes count what has moved so far; TotalKeys is the
	// source's key count when the transfer began, 0 when unknown.
	Keys      int64     `json:"keys"`
	TotalKeys int64     `json:"total_keys"`
	Bytes     int64     `json:"bytes"`
	StartedAt time.Time `json:"started_at"`
}

// Progress returns Keys/TotalKeys, and false when TotalKeys is unknown. It
// may pass 1: writes during the transfer add keys the total did not count.
func (t Transfer) Progress() (float64, bool) {
	if t.TotalKeys <= 0 {
		return 0, false
	}
	return float64(t.Keys) / float64(t.TotalKeys), true
}

// Actions of the admin API's ownership changes, as Accepted.Action names
// them.
const (
	ActionJoin         = "join"
	ActionDecommission = "decommission"
	ActionForceRemove  = "force-remove"
	ActionResize       = "resize"
)

// ResizeRequest is the body of POST /admin/resize: the partition count to
// grow the ring to, a larger power of two. Every partition splits into
// its sub-arcs on the replicas it has, so no data moves.
type ResizeRequest struct {
	Partitions int `json:"partitions"`
}

// NodeRequest is the body of POST /admin/decommission and
// /admin/force-remove: the id of the target node.
type NodeRequest struct {
	Node string `json:"node"`
}

// Accepted is the 202 answer of an ownership change: the change is in the
// ring state and gossip carries it on; the data moves afterwards.
type Accepted struct {
	Accepted bool `json:"accepted"`
	// Node is the node the change is about; for a join, the answering
	// node, omitted if it did not know its own id yet.
	Node string `json:"node,omitempty"`
	// Action is one of the Action* constants.
	Action string `json:"action"`
	// Partitions is, for a resize, the partition count the ring now has.
	Partitions int `json:"partitions,omitempty"`
}
