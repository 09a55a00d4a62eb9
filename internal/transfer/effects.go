package transfer

import (
	"time"
)

// Kind says which way a transfer moves data.
type Kind string

// Transfer kinds; their strings are metric labels and Status values.
const (
	// Receive pulls a partition from a replica that holds it.
	Receive Kind = "receive"
	// Drain pushes a partition this node no longer has a part in to the
	// replicas that serve it, before the node drops its copy.
	Drain Kind = "drain"
)

// Result is how a transfer ended; its string is a metric label.
type Result string

// Transfer results.
const (
	// Done: a receive has every key, or a drain dropped its copy.
	Done Result = "done"
	// Aborted: the transfer stopped and starts again on a later tick.
	Aborted Result = "aborted"
	// Retry: a drain saw a write after its push began; it runs again.
	Retry Result = "retry"
)

// EventKind names an event of the node's event stream.
type EventKind int

// Event kinds (the events package's handoff-start, handoff-finish,
// handoff-drop).
const (
	Started EventKind = iota
	Finished
	DroppedData
)

// Effects is what the caller must do after an event, in this order:
// persist, send, report. The zero value does nothing.
type Effects struct {
	// Cursors are persisted first, so that a batch merged is never pulled
	// again after a restart (a lost save only costs a batch pulled twice).
	Cursors []CursorOp

	// Compares ask a node's vnode for hashes of its Merkle tree; the
	// answer is the event Hashes.
	Compares []Compare
	// Lists ask a node's vnode for its keys of some Merkle buckets with
	// their value hashes; the answer is the event Listed.
	Lists []List
	// Pulls ask a node's vnode for the batch after a key, or of some keys.
	Pulls []Pull
	// Merges send the batch of the Pulled event that returned them to
	// each named node's vnode.
	Merges []Merge
	// Drops ask this node's vnode to drop its partition; it answers with
	// the event Dropped.
	Drops []Drop
	// Done reports received placements to the topology actor.
	Done []Placement
	// Recheck asks for a Tick now: a slot is free, the next transfer need
	// not wait for the next interval.
	Recheck bool

	// Moved counts the keys and bytes of batches merged everywhere.
	Moved []Moved
	// Compared tells how a transfer's comparison of trees ended.
	Compared []Compared
	// Active, when not nil, is the running transfers' progress now.
	Active []Progress
	// Ended lists the transfers that ended.
	Ended []End
	// Events are for the node's event stream.
	Events []Event
	// Report, set by Tick, is the whole picture for status and gauges.
	Report *Report
	// Retire is set once: this node was removed and has handed over all it
	// held; the node leaves the cluster.
	Retire bool
}

// CursorOp saves where a receive stands, or deletes it once done.
type CursorOp struct {
	Cursor
	Delete bool
}

// Cursor is the last key merged of a receive of one placement.
type Cursor struct {
	Partition uint32
	Since     uint64
	After     []byte
}

// Pull asks Node's vnode of Partition for the keys after After, or, when
// Keys is set, for those keys (a transfer that compared trees). A vnode
// that does not know keyed pulls answers the page after After, which the
// machine takes as the page of a whole-partition stream.
type Pull struct {
	ID        uint64
	Node      string
	Partition uint32
	After     []byte
	Keys      [][]byte
	MaxKeys   int
	MaxBytes  int
	Deadline  time.Time
}

// Compare asks Node's vnode of Partition for the hashes of its Merkle tree
// at Level: the root at level 0, below it the children of each of Parents
// (a MerkleRequest).
type Compare struct {
	ID        uint64
	Node      string
	Partition uint32
	Level     int
	Parents   []int
	Deadline  time.Time
}

// List asks Node's vnode of Partition for its keys of the Merkle leaf
// Buckets, each with its value hash (a BucketKeysRequest).
type List struct {
	ID        uint64
	Node      string
	Partition uint32
	Buckets   []int
	Deadline  time.Time
}

// CompareResult is how a comparison of trees ended; its string is a metric
// label.
type CompareResult string

// Comparison results.
const (
	// InSync: the receivers hold everything the source holds; nothing is
	// sent.
	InSync CompareResult = "in_sync"
	// Difference: only the keys that differ are sent.
	Difference CompareResult = "difference"
	// Full: the partition is sent whole, as without a comparison (a
	// receiver holds nothing, most buckets differ, or the trees could not
	// be compared); Reason says why.
	Full CompareResult = "full"
)

// Compared is what one comparison of trees found.
type Compared struct {
	Kind      Kind
	Partition uint32
	Result    CompareResult
	Reason    string
	// SourceKeys is the source's key count; Send how many of them some
	// receiver lacks or holds another version of (Difference only).
	SourceKeys int64
	Send       int64
	// Bytes counts the hashes and key listings received: the comparison's
	// cost.
	Bytes int
}

// Merge sends the batch just pulled to Node's vnode of Partition.
type Merge struct {
	ID        uint64
	Node      string
	Partition uint32
	Deadline  time.Time
}

// Drop asks this node's vnode of Partition to drop its data unless it took
// a write after Generation.
type Drop struct {
	Partition  uint32
	Generation uint64
}

// Placement is a received placement of this node (HandoffDone).
type Placement struct {
	Partition uint32
	Since     uint64
}

// Moved counts one batch merged everywhere it goes.
type Moved struct {
	Kind  Kind
	Keys  int
	Bytes int
}

// End is a transfer that ended.
type End struct {
	Kind      Kind
	Partition uint32
	// Peer is a receive's source, or a drain's targets.
	Peer   string
	Result Result
	// Reason says why an aborted transfer stopped.
	Reason string
	// Keys is how many keys it had moved.
	Keys int64
}

// Event is an entry of the node's event stream.
type Event struct {
	Kind      EventKind
	Subject   string
	Partition uint32
	Detail    string
}

// Progress is one running transfer.
type Progress struct {
	Partition uint32
	Kind      Kind
	// Peer is the source of a receive; for a drain, the targets.
	Peer      string
	Keys      int64
	TotalKeys int64
	Bytes     int64
	StartedAt time.Time
}

// Report is the machine's work as one tick saw it.
type Report struct {
	// Version and Settled are the snapshot's.
	Version uint64
	Settled bool
	// Pending counts the placements left to receive; Draining the
	// partitions held but no longer needed.
	Pending, Draining int
	// Rebuilding counts the placements of Pending this node receives again
	// because it lost its data.
	Rebuilding int
	Active     []Progress
	// ETASeconds estimates the time left at the recent rate; 0 when idle
	// or unknown.
	ETASeconds float64
	// Leaving is set while this node, decommissioned, hands over what it
	// held in this run: until it retires and exits. A node restarted after
	// its decommission holds nothing and is not leaving.
	Leaving bool
}

// Batch is a pulled batch, as the machine needs it.
type Batch struct {
	// Keys counts the entries; Bytes is their size; Last is the last key.
	Keys  int
	Bytes int
	Last  []byte
	// Done is set on the partition's last batch.
	Done bool
	// Total is the partition's key count at the source.
	Total uint64
	// Generation is the source vnode's write count; a drain drops only at
	// the generation of its first batch.
	Generation uint64
	// Answered counts the keys of a keyed pull the batch covers, held or
	// not; 0 from a vnode that does not know keyed pulls.
	Answered int
}

// DropResult is the vnode's answer to Drop.
type DropResult struct {
	// Done is false when a write arrived since the generation, or on Err.
	Done bool
	Err  error
}

func (e *Effects) event(kind EventKind, subject string, p uint32, detail string) {
	e.Events = append(e.Events, Event{Kind: kind, Subject: subject, Partition: p, Detail: detail})
}
