package hintq

import "time"

// Result names a hint-queue event counted by the shell's metric
// (metrics.Hints, label result). The values are the metric's label values.
type Result string

// The results the machine counts.
const (
	ResultStored         Result = "stored"
	ResultRefusedFull    Result = "refused_full"
	ResultRefusedStorage Result = "refused_storage"
	ResultDelivered      Result = "delivered"
)

// LostAfter is how many delivery intervals a batch may go unanswered before
// the machine counts it lost and offers its hints again. Merging is
// idempotent, so a hint delivered twice (a late acknowledgement) is harmless,
// while one never offered again would wait forever.
const LostAfter = 5

// Ref names one stored hint: the node it is meant for, its sequence number
// under that node, and its encoded size in bytes.
type Ref struct {
	Target string
	Seq    uint64
	Size   int64
}

// Offer is a hint a coordinator asks the queue to keep. Size is the bytes it
// takes encoded, as it would be stored.
type Offer struct {
	Target string
	Key    []byte
	Size   int64
}

// Hint is a stored hint as the shell read it during a delivery round.
// Readable is false when it could not be decoded: it is dropped, since it can
// never be delivered.
type Hint struct {
	Ref
	Partition uint32
	Readable  bool
}

// Reach is what the shell knows of a target at a tick: whether it can take
// deliveries now, and whether it was removed from the ring (then its hints go
// to a serving replica instead, named per partition during the round).
type Reach struct {
	Alive   bool
	Removed bool
}

// Why says why a stored hint is deleted.
type Why int

// The reasons a hint is deleted.
const (
	// WhyDelivered: its node acknowledged it.
	WhyDelivered Why = iota + 1
	// WhyUnreadable: it could not be decoded.
	WhyUnreadable
)

// Removal asks the shell to delete one stored hint and report the outcome
// with Queue.Deleted.
type Removal struct {
	Ref
	Why Why
}

// Delivery is one hint sent to a node's vnode: the request id the answer will
// carry, the stored hint, the hint's partition, and the node it goes to (the
// target, or a serving replica when the target was removed).
type Delivery struct {
	Req uint64
	Ref
	Partition uint32
	Node      string
}

// Reply answers the coordinator that offered a hint.
type Reply struct {
	Stored bool
	// Reason says why the hint was refused; empty when stored.
	Reason string
}

// Gauge is the queue's state for one target after a change: the hints kept
// for it, and the bytes kept for all targets.
type Gauge struct {
	Target     string
	Pending    int
	TotalBytes int64
}

// Effects is what the shell must do after an event, in this order: persist,
// delete, send, reply; the counts, gauges and logs go along with them.
type Effects struct {
	// Persist asks the shell to store the offered hint under Ref, then
	// report the outcome with Queue.Persisted.
	Persist *Ref
	// Delete asks the shell to delete a stored hint, then report the
	// outcome with Queue.Deleted.
	Delete *Removal
	// Send is a hint to send to Send.Node's vnode.
	Send *Delivery
	// Reply, when set, answers the offering coordinator.
	Reply *Reply
	// Count, when not empty, is one event for the metric.
	Count Result
	// Gauges are the targets whose counts changed.
	Gauges []Gauge
	// Retry is a delivery its node refused: the hint stays, to be offered
	// again on a later round. The shell logs it.
	Retry *Delivery
	// Wake asks for another delivery round now rather than at the next
	// tick: a batch is done and more hints wait, so a returning node
	// catches up fast.
	Wake bool
}

// Config bounds the queue.
type Config struct {
	// MaxHints and MaxBytes bound the hints kept, over all targets.
	MaxHints int
	MaxBytes int64
	// BatchSize bounds the hints in flight to one target.
	BatchSize int
	// Interval is the delivery interval; a batch unanswered for LostAfter
	// of them is lost.
	Interval time.Duration
	// FirstRequest is where deliveries' request ids start (the first is
	// FirstRequest+1). A shell that restarts loses the queue's state but
	// not the answers still on their way to its previous incarnation: were
	// ids to start again at 1, a late answer would acknowledge, and delete,
	// a different hint. The shell gives each incarnation a start of its own.
	FirstRequest uint64
}
