package replica

import (
	"errors"
	"fmt"
	"time"

	"github.com/dhtkv/dht/internal/dvv"
)

// PutRequest is a client write this replica coordinates.
type PutRequest struct {
	Key     []byte
	Context dvv.VersionVector
	// Value is the new sibling; its dot, timestamp and expiry are set here.
	Value dvv.Sibling
	// TTL, when positive, makes the value expire TTL after now: the expiry
	// is fixed here, once, and travels with the object to every replica.
	// Ignored for a tombstone.
	TTL         time.Duration
	MaxSiblings int
	// Early asks for the object as soon as it is merged, its durability
	// later (honoured only with Config.Async).
	Early bool
	// Precondition, when not zero, is tested against the stored object
	// before a dot is minted; a write that fails it is refused with
	// CodePreconditionFailed and nothing is stored. A write that passes it
	// without a Context is made with the stored object's context: it
	// replaces exactly what the test was made against.
	Precondition Precondition
}

// The range of a write's TTL. The gateway refuses a client's TTL outside
// it; the replica checks again what a peer sends.
const (
	MinTTL = time.Second
	// MaxTTL is ten years: far enough for any cache, near enough that
	// now plus it never overflows.
	MaxTTL = 87600 * time.Hour
)

// Put coordinates a client write at now: check the context is plausible
// and the precondition holds, mint a dot above what the key's contexts say of this replica, apply
// dvv.Update within the sibling limit, resolve on write, and persist.
// Values expired at now are dropped from the stored object first (their
// dots stay in its context): they neither count toward the sibling limit
// nor satisfy a precondition, as a reader at now would not see them.
//
// The answer is a ReplyPut with the object once the write is stored. An
// early put on an async machine is answered twice: the object at once
// (Minted), then a bare ReplyPut, or a storage error, once it is durable.
func (m *Machine[A]) Put(to A, req PutRequest, now time.Time) Effects[A] {
	if m.barrier {
		return Effects[A]{Defer: true}
	}
	stored, prev, err := m.load(req.Key)
	if err != nil {
		return Effects[A]{Reply: errorReply(to, OpPut, CodeStorage, err.Error())}
	}
	if req.TTL < 0 || req.TTL > MaxTTL {
		return Effects[A]{Reply: errorReply(to, OpPut, CodeBadRequest, fmt.Sprintf("vnode: ttl %v outside 0..%v", req.TTL, MaxTTL))}
	}
	stored = stored.WithoutExpired(now)
	if limit := PlausibleCounter(now); req.Context.MaxCounter() > limit {
		return Effects[A]{Reply: errorReply(to, OpPut, CodeBadContext, fmt.Sprintf(
			"vnode: the context names a dot (counter %d) beyond any a replica can have minted by now (%d): it was not issued by this cluster", req.Context.MaxCounter(), limit))}
	}
	if !req.Precondition.IsZero() {
		// Tested here, in the step that mints, against the object the
		// write would update (a write in flight included): nothing else
		// is applied to the key in between.
		if err := req.Precondition.Check(stored); err != nil {
			return Effects[A]{Reply: errorReply(to, OpPut, CodePreconditionFailed, err.Error())}
		}
		if len(req.Context) == 0 {
			req.Context = stored.Context
		}
	}
	dot, err := m.cfg.Minter.NextAfter(mintFloor(m.cfg.Minter.Actor(), stored.Context, req.Context))
	if err != nil {
		return Effects[A]{Reply: errorReply(to, OpPut, CodeStorage, err.Error())}
	}
	sib := req.Value
	sib.Timestamp = now.UnixMilli()
	sib.ExpiresAt = 0
	if req.TTL > 0 && !sib.Tombstone {
		sib.ExpiresAt = now.Add(req.TTL).UnixMilli()
	}
	// A client's context cannot grow the stored one without bound, however
	// it was made (dvv.VersionVector.Bounded).
	ctx := req.Context.Bounded(stored.Context, dvv.MaxContextEntries)
	updated, err := stored.Update(ctx, sib, dot, req.MaxSiblings)
	switch {
	case errors.Is(err, dvv.ErrTooManySiblings):
		return Effects[A]{Reply: errorReply(to, OpPut, CodeTooManySiblings, err.Error())}
	case err != nil:
		return Effects[A]{Reply: errorReply(to, OpPut, CodeBadRequest, err.Error())}
	}
	if m.cfg.Resolve != nil {
		updated = m.cfg.Resolve(req.Key, updated, now)
	}
	early := req.Early && m.cfg.Async
	eff := m.persist(to, OpPut, ReplyPut, req.Key, updated, prev, !early, false)
	eff.Siblings = len(updated.Siblings)
	if early && eff.Write.Kind != WriteNone {
		// The object now, its durability later: the confirmation then
		// carries no object.
		eff.Reply = Reply[A]{To: to, Kind: ReplyPut, Object: updated, HasObject: true, Minted: true}
	}
	return eff
}

// Get answers a read with the stored object, which includes a write still
// in flight.
func (m *Machine[A]) Get(to A, key []byte) Effects[A] {
	if m.barrier {
		return Effects[A]{Defer: true}
	}
	s, _, err := m.load(key)
	if err != nil {
		return Effects[A]{Reply: errorReply(to, OpGet, CodeStorage, err.Error())}
	}
	return Effects[A]{Reply: Reply[A]{To: to, Op: OpGet, Kind: ReplyGet, Object: s, HasObject: true}}
}
