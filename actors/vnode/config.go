package vnode

import (
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/dhtkv/dht/config"
	"github.com/dhtkv/dht/messages"
	"github.com/dhtkv/dht/metrics"
	"github.com/dhtkv/dht/persistence"
	"github.com/dhtkv/dht/resolve"
)

// Error codes a vnode answers with in an ErrorReply (messages.ErrorCode).
const (
	CodeTooManySiblings = messages.ErrorCode_ERROR_CODE_TOO_MANY_SIBLINGS
	CodeStorage         = messages.ErrorCode_ERROR_CODE_STORAGE
	CodeBadRequest      = messages.ErrorCode_ERROR_CODE_BAD_REQUEST
	// CodeBadContext refuses a client context no replica can have issued.
	CodeBadContext = messages.ErrorCode_ERROR_CODE_BAD_CONTEXT
	CodeUnknown    = messages.ErrorCode_ERROR_CODE_UNKNOWN_MESSAGE
	// CodeNotReady refuses a replica read the ReadGate closes.
	CodeNotReady = messages.ErrorCode_ERROR_CODE_NOT_READY
	// CodeExpired refuses a client write that arrived after its
	// envelope's deadline.
	CodeExpired = messages.ErrorCode_ERROR_CODE_EXPIRED
	// CodePreconditionFailed refuses a conditional write whose
	// precondition does not hold on the stored object.
	CodePreconditionFailed = messages.ErrorCode_ERROR_CODE_PRECONDITION_FAILED
)

// ObjectCacheBytes is the node's budget for its vnodes' caches of decoded
// hot objects, split evenly between the partitions: small next to the
// engine's memtables and block cache (about 100 MiB in the small profile),
// and enough for the hot keys of a skewed load.
const ObjectCacheBytes = 32 << 20

// Config is what a vnode needs. All fields are required except Metrics,
// Logger and Now.
type Config struct {
	Partition uint32
	// Partitions is the ring's Q, and InitialPartitions the Q it
	// started with. When they differ the ring was resized: the
	// partition's data lives under an id of its own (persistence.DataID),
	// and the vnode adopts the keys the partitions of the ring's other
	// sizes (Layouts) still hold of it, serving them meanwhile. Both 0 (or
	// equal) is the ring as it started. With Partitions set, the vnode
	// also checks that a key it is asked for is in its partition (see the
	// package doc).
	Partitions, InitialPartitions int
	// Layouts lists the ring sizes the data has been laid out under
	// (ring.Base.LayoutSizes); nil stands for every size from
	// InitialPartitions up to Partitions.
	Layouts []int
	Engine  persistence.Engine
	Minter  *Minter
	Metrics *metrics.Metrics
	Logger  *slog.Logger
	// Now is the wall clock for sibling timestamps; nil means time.Now.
	Now func() time.Time
	// Clock is the clock a request's deadline is checked by: the real
	// one, even when Now is skewed for a test; nil means time.Now.
	Clock func() time.Time
	// Root, when set, mirrors the Merkle root for the admin API, which
	// reads it without messaging the vnode.
	Root *atomic.Uint64
	// Keys, when set, mirrors the number of keys the vnode stores, so the
	// handoff actor knows which partitions hold data without asking.
	Keys *atomic.Int64
	// Dispatcher, when set, runs the vnode's mailbox (the node's worker
	// pool); nil means protoactor's default.
	Dispatcher actor.Dispatcher
	// CacheBytes is the budget of the vnode's cache of decoded objects
	// (see the replica package); zero disables it.
	CacheBytes int
	// ResolveOnWrite, when set, resolves the siblings a client write this
	// vnode coordinates leaves, and stores the resolution
	// (resolution.on_write; see resolveOnWrite); nil stores them as they
	// are.
	ResolveOnWrite *resolve.Selector
	// ReadGate, when set, says whether the vnode may answer a replica
	// read now: "" when it may, otherwise why not, and the read is refused
	// with CodeNotReady so that the reader asks the other replicas. A node
	// that lost its data must not have its empty answers counted toward R
	// as the keys' state, even by peers that have not yet heard of the
	// loss. It is asked for partition p of a ring of q partitions (the
	// vnode's; 0 when it does not know Q). Nil answers every read.
	ReadGate func(p uint32, q int) string
}

// FromConfig returns the part of a vnode's Config the node's configuration
// decides: the ring's Q as it started (the node sets the resized one) and
// each partition's share of the object cache budget. The node
// fills the rest (partition, engine, minter, clocks, mirrors, resolver).
func FromConfig(c config.Config) Config {
	var cfg Config
	cfg.Partitions, cfg.InitialPartitions = c.Ring.Partitions, c.Ring.Partitions
	if c.Ring.Partitions > 0 {
		cfg.CacheBytes = ObjectCacheBytes / c.Ring.Partitions
	}
	return cfg
}

// Drop asks a vnode to delete every key of its partition, if it has taken
// no write since Generation (a HandoffPullReply's): the caller has pushed
// everything up to then to the partition's serving replicas. The vnode
// answers with a *Dropped.
type Drop struct{ Generation uint64 }

// Dropped answers Drop. Done is false when a write arrived since the
// caller's generation, or on a storage error (Err).
type Dropped struct {
	Partition uint32
	Done      bool
	Keys      int
	Err       error
}

// Name returns the actor name of partition p's vnode under its node actor.
// It is deterministic so peers can address a vnode without a lookup.
func Name(p uint32) string { return fmt.Sprintf("vnode-%d", p) }

// Props returns the props of the vnode actor for cfg.
func Props(cfg Config) *actor.Props {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	cfg.Logger = cfg.Logger.With("partition", cfg.Partition)
	var opts []actor.PropsOption
	if cfg.Dispatcher != nil {
		opts = append(opts, actor.WithDispatcher(cfg.Dispatcher))
	}
	async, _ := cfg.Engine.(persistence.AsyncPutter)
	if async != nil && !async.AsyncPuts() {
		async = nil
	}
	return actor.PropsFromProducer(func() actor.Actor { return newVnode(cfg, async) }, opts...)
}
