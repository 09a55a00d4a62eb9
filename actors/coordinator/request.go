package coordinator

import (
	"fmt"
	"time"

	"github.com/dhtkv/dht/internal/dvv"
	"github.com/dhtkv/dht/internal/quorum"
	"github.com/dhtkv/dht/internal/replica"
	"github.com/dhtkv/dht/messages"
)

// Op is a client operation.
type Op int

// The client operations.
const (
	OpGet Op = iota
	OpPut
	OpDelete
)

// String returns the operation's name: "get", "put" or "delete".
func (o Op) String() string {
	switch o {
	case OpGet:
		return "get"
	case OpPut:
		return "put"
	case OpDelete:
		return "delete"
	}
	return fmt.Sprintf("op(%d)", int(o))
}

// Request is one validated client request.
type Request struct {
	Op        Op
	Key       []byte
	Partition uint32
	// Context is the client's causal context (writes only).
	Context     dvv.VersionVector
	Value       []byte
	ContentType string
	// TTL, when positive, makes a written value expire TTL after the
	// coordinating replica takes it (PutRequest.ttl_ms).
	TTL    time.Duration
	Params quorum.Params
	// MaxSiblings refuses a write that would leave more siblings (0 = none).
	MaxSiblings int
	// Precondition makes a write conditional (HTTP If-Match,
	// If-None-Match): the coordinating replica tests it against the object
	// it stores when it mints the write, and refuses the write if it does
	// not hold. Such a write is never handed to another replica
	// (quorum.Put.Pin). A read's is not the coordinator's to test: the
	// gateway tests it on the merged answer.
	Precondition replica.Precondition
	Deadline     time.Time
}

// readsFirst reports whether the request is a delete sent without a context
// or a precondition: the coordinator then reads the key first and deletes
// what the read saw (quorum.BlindDelete).
func (r Request) readsFirst() bool {
	return r.Op == OpDelete && len(r.Context) == 0 && r.Precondition.IsZero()
}

// Unanswered is the error a request gets when no answer can come from its
// coordinator (it stopped, or did not answer by the deadline): a write may
// or may not have landed, so its outcome is indeterminate; a read simply
// timed out.
func (r Request) Unanswered() error {
	if r.Op == OpGet {
		return quorum.ErrTimeout
	}
	return quorum.ErrIndeterminate
}

// Start asks a coordinator to run Request. The coordinator sends its one
// Reply on Done, which must have room for it (a buffer of one): the
// coordinator never waits for its caller.
type Start struct {
	Request Request
	Done    chan<- *Reply
}

// Reply is the answer to a Request.
type Reply struct {
	// Object is the key's merged state: for a read what the quorum returned,
	// for a write the state at the coordinating replica.
	Object dvv.Set
	Acks   int
	Err    error
	// NotFound answers a delete sent without a context whose read found no
	// live value: nothing was written, and Object is what the read merged
	// (its context is still the key's).
	NotFound bool
}

// RefusedError is a replica's definite refusal of a write: nothing was
// stored.
type RefusedError struct {
	Code    messages.ErrorCode
	Message string
}

func (e *RefusedError) Error() string { return e.Message }

// storageFailure reports whether a replica's error is its own failure,
// which another replica may not share, rather than a definite refusal of
// the request itself: its engine's (or a code an older node leaves
// unset), or a replica not ready for the key (one that routes by a ring
// of another size during a resize).
func storageFailure(code messages.ErrorCode) bool {
	return code == messages.ErrorCode_ERROR_CODE_STORAGE || code == messages.ErrorCode_ERROR_CODE_UNSPECIFIED ||
		code == messages.ErrorCode_ERROR_CODE_NOT_READY
}
