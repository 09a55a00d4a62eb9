package replica

import (
	"github.com/dhtkv/dht/internal/dvv"
	"github.com/dhtkv/dht/internal/merkle"
)

// Effects is what one step of a Machine asks its owner to carry out, in
// this order: Write, then Reply. Defer and Resume concern the owner's
// queue of requests; Publish and Siblings its gauges and histograms.
type Effects[A any] struct {
	// Write, when its Kind is not WriteNone, is to be carried out before
	// the reply is sent. The owner reports its outcome with WriteDone:
	// at once for a synchronous kind, when the engine answers for
	// WritePutAsync.
	Write Write
	// Reply, when its Kind is not ReplyNone, is to be sent to Reply.To.
	Reply Reply[A]
	// Defer says the request was not taken: the machine waits for its
	// writes in flight to land before it answers anything, as a scan must
	// see every write made before it. The owner keeps the request, and
	// every later one, in arrival order, and hands them again on Resume.
	Defer bool
	// Resume says the machine takes requests again: the owner hands back
	// what it deferred, in order.
	Resume bool
	// Publish says the Merkle root or key count changed (Machine.Root,
	// Machine.Len), for owners that mirror them.
	Publish bool
	// Siblings, when positive, is the sibling count a client write left,
	// for the siblings histogram.
	Siblings int
}

// WriteKind says how the owner carries out a Write.
type WriteKind uint8

const (
	// WriteNone: nothing to write.
	WriteNone WriteKind = iota
	// WritePut stores Value at Key and waits for the engine.
	WritePut
	// WritePutAsync hands the put to the engine without waiting; the
	// engine's answer comes back as WriteDone. Only machines made with
	// Config.Async return it.
	WritePutAsync
	// WriteDelete deletes Key and waits for the engine.
	WriteDelete
	// WriteDropAll deletes every key of the partition and waits.
	WriteDropAll
)

// Write is one engine write the machine asks for. Key is the key within
// the partition; the owner adds the partition's prefix. The owner must
// not modify Key or Value.
type Write struct {
	Kind  WriteKind
	ID    uint64
	Key   []byte
	Value []byte
}

// Code is the error a request is refused with.
type Code uint8

const (
	// CodeNone: no error.
	CodeNone Code = iota
	// CodeStorage: the engine failed, or a stored record is corrupt.
	CodeStorage
	// CodeBadRequest: the request is malformed.
	CodeBadRequest
	// CodeTooManySiblings: the write would leave more live siblings than
	// the request allows.
	CodeTooManySiblings
	// CodeBadContext: the client context names a dot no replica can have
	// minted by now.
	CodeBadContext
	// CodeUnknownRequest: the owner does not know the request's kind (a
	// newer peer's). The machine never answers it; owners refuse with it.
	CodeUnknownRequest
	// CodeNotReady: the owner does not hold the partition's data yet (it
	// is rebuilt after a data loss, or its storage is new and the node
	// has not yet learnt whether it owned replicas), so it answers no
	// reads. The machine never answers it; owners refuse with it.
	CodeNotReady
	// CodeExpired: a write arrived after its sender's deadline, so the
	// owner did not take it (the sender has handed it to another replica
	// or answered its client). The machine never answers it; owners
	// refuse with it.
	CodeExpired
	// CodePreconditionFailed: a conditional write's Precondition does not
	// hold on the stored object; nothing was stored.
	CodePreconditionFailed
)

// Op names a request for the per-operation counter; OpNone is not counted.
type Op uint8

// The counted operations, named as the vnode_ops metric labels them.
const (
	OpNone Op = iota
	OpPut
	OpGet
	OpMerge
	OpReap
	OpHandoffPull
	OpMergeBatch
)

var opNames = [...]string{"", "put", "get", "merge", "reap", "handoff_pull", "merge_batch"}

// String returns the operation's metric label.
func (o Op) String() string { return opNames[o] }

// ReplyKind says which of Reply's fields make the answer.
type ReplyKind uint8

// The answers; each names the Reply fields it uses.
const (
	ReplyNone        ReplyKind = iota
	ReplyError                 // Code, Message
	ReplyPut                   // Object (when HasObject), Minted
	ReplyGet                   // Object
	ReplyMerge                 // nothing
	ReplyMergeBatch            // Merged
	ReplyReap                  // Reaped
	ReplyHandoffPull           // Pull
	ReplyBucketKeys            // Versions
	ReplyTombstones            // Keys
	ReplyMerkle                // Hashes, Shape, Pull's Generation and TotalKeys
	ReplyDropped               // Dropped
	ReplyList                  // Pull's Entries (objects only when asked) and Done
)

// Reply is one answer to a request, addressed to the To its request came
// with.
type Reply[A any] struct {
	To   A
	Op   Op
	Kind ReplyKind

	Code    Code
	Message string

	Object    dvv.Set
	HasObject bool
	// Minted marks the early answer of a put whose durability follows
	// in a second, bare, ReplyPut.
	Minted bool
	Merged uint32
	Reaped bool
	Pull   Pull
	// Versions are the keys of the asked buckets with their value hashes.
	Versions []KeyVersion
	// Keys are keys holding only old tombstones.
	Keys    [][]byte
	Hashes  []uint64
	Shape   merkle.Shape
	Dropped Dropped
}

// Pull is one page of a partition transfer.
type Pull struct {
	Entries    []KeyObject
	Done       bool
	Generation uint64
	TotalKeys  uint64
	// Answered counts the keys of a HandoffPullKeys the page covers.
	Answered int
}

// KeyObject is a stored key with its object.
type KeyObject struct {
	Key    []byte
	Object dvv.Set
}

// KeyVersion is a stored key with its Merkle value hash.
type KeyVersion struct {
	Key  []byte
	Hash uint64
}

// Dropped is the verdict on a Drop: Done is false when a write arrived
// since the caller's generation, or on a storage error (Err).
type Dropped struct {
	Done bool
	Keys int
	Err  error
}

func errorReply[A any](to A, op Op, code Code, msg string) Reply[A] {
	return Reply[A]{To: to, Op: op, Kind: ReplyError, Code: code, Message: msg}
}
