package antientropy

import (
	"errors"
	"time"

	"github.com/dhtkv/dht/internal/dvv"
)

// Kind names what a Request asks.
type Kind int

// The requests of a round. Every one but HintsFor goes to a vnode of the
// round's partition; HintsFor goes to a node's hint queue.
const (
	// MerkleLevel asks a vnode for the hashes of Level below Parents.
	MerkleLevel Kind = iota + 1
	// BucketKeys asks a vnode for the keys of Buckets with their value hashes.
	BucketKeys
	// Get asks a vnode for Key's stored set.
	Get
	// Merge asks a vnode to merge Object into Key.
	Merge
	// Tombstones asks a vnode for up to Limit keys holding only tombstones
	// older than OlderThanUnixMs.
	Tombstones
	// HintsFor asks a node's hint queue how many hints it keeps for Key.
	HintsFor
	// Reap asks a vnode to delete Key if it still stores exactly Object.
	Reap
)

var kindNames = [...]string{"", "merkle-level", "bucket-keys", "get", "merge", "tombstones", "hints-for", "reap"}

func (k Kind) String() string {
	if k < 0 || int(k) >= len(kindNames) {
		return "unknown"
	}
	return kindNames[k]
}

// Request is one message the caller must send: to Node's vnode of Partition,
// or to Node's hint queue for HintsFor. Its reply comes back to the machine
// with ID. The fields a Kind does not use are zero.
type Request struct {
	ID        uint64
	Kind      Kind
	Node      string
	Partition uint32
	// Deadline is the round's: the receiver may drop a request past it.
	Deadline time.Time

	Level   int   // MerkleLevel
	Parents []int // MerkleLevel
	Buckets []int // BucketKeys

	Key    []byte  // Get, Merge, HintsFor, Reap
	Object dvv.Set // Merge, Reap

	OlderThanUnixMs int64 // Tombstones
	Limit           int   // Tombstones
}

// Outcome is how a round ended, the label of ae_exchanges_total.
type Outcome string

// The outcomes of a round.
const (
	InSync   Outcome = "in_sync"
	Repaired Outcome = "repaired"
	Aborted  Outcome = "aborted"
)

// Why a round was aborted (Result.Err wraps one of them), or, for
// ErrNotReapable, why a reap phase ended early while the round stays in sync.
var (
	// ErrTimeout: the round's deadline passed before it ended.
	ErrTimeout = errors.New("antientropy: exchange timed out")
	// ErrPeerGone: the round's pair left the view (its peer is down or
	// no longer holds the partition) while the round ran.
	ErrPeerGone = errors.New("antientropy: the peer left the exchange's partition or went down")
	// ErrPeerFailed: a vnode or hint queue answered an error.
	ErrPeerFailed = errors.New("antientropy: a replica answered an error")
	// ErrUnreadable: an object read for repair could not be decoded.
	ErrUnreadable = errors.New("antientropy: unreadable object")
	// ErrBadReply: a reply that does not fit its request (another tree
	// shape, a wrong number of hashes, another kind of answer).
	ErrBadReply = errors.New("antientropy: reply does not fit the request")
	// ErrNotReapable: a primary's copy of a tombstone could not be read,
	// and what is unknown is not reaped (the round counts as in sync).
	ErrNotReapable = errors.New("antientropy: a primary's copy is unknown")
)

// Result is what a round did, once it ended: the metrics to count, the
// repair to announce (OnRepair, when Repaired > 0) and what to log.
type Result struct {
	Outcome   Outcome
	Partition uint32
	Peer      string
	// Repaired counts replica copies sent a merged object.
	Repaired int
	// Reaped counts replica copies of tombstones deleted.
	Reaped int
	// Bytes counts the hashes, key listings and objects exchanged.
	Bytes int
	// Err says why the round was aborted, or why its reap phase stopped.
	Err error
}

// Start is the pair a round was started for, and why the schedule picked
// it: "due" (its age reached half the sweep interval), "repeat" (its last
// round repaired), "retry" (its last round was aborted) or "routine".
type Start struct {
	Partition uint32
	Peer      string
	Why       string
}

// Verdict is the reap decision on one tombstoned key, for tests and logs.
type Verdict struct {
	Key  string
	Reap bool
	// Why names the rule that kept the key, empty when it is reaped.
	Why string
}

// Effects is what the caller must do after an event, in this order: record
// Done (the round ended), then send Send. NeedView asks for the reap phase's
// inputs: call Reap with the current view and the wall clock.
type Effects struct {
	Done *Result
	// Started is the round Tick started, for logs and stories.
	Started  *Start
	Send     []Request
	NeedView bool
	// Skipped says why an in-sync round reaps nothing (a reap rule that
	// holds for the whole partition); Verdicts are the per-key decisions.
	Skipped  string
	Verdicts []Verdict
}

func (e *Effects) add(o Effects) {
	if o.Done != nil {
		e.Done = o.Done
	}
	if o.Started != nil {
		e.Started = o.Started
	}
	e.Send = append(e.Send, o.Send...)
	e.NeedView = e.NeedView || o.NeedView
	if o.Skipped != "" {
		e.Skipped = o.Skipped
	}
	e.Verdicts = append(e.Verdicts, o.Verdicts...)
}
