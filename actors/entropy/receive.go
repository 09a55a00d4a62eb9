package entropy

import (
	"math/rand/v2"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"google.golang.org/protobuf/proto"

	"github.com/dhtkv/dht/actorsys/ticker"
	"github.com/dhtkv/dht/internal/antientropy"
	"github.com/dhtkv/dht/internal/merkle"
	"github.com/dhtkv/dht/messages"
	"github.com/dhtkv/dht/wire"
)

// tick is the scheduler's interval message.
type tick struct{}

// scheduler is the actor: it owns the machine and steps it from Receive only.
type scheduler struct {
	cfg Config
	m   *antientropy.Machine
	// view is the cluster as the machine sees it now (viewOf the node's
	// topology view; tests give plain values).
	view   func() *antientropy.View
	rng    *rand.Rand
	ticker *ticker.Ticker
	// partitions is the ring's partition count in the view of the last
	// tick: the requests that name a partition say it (see stamped).
	partitions int
	// sweeps is the machine's count of sweeps already counted in metrics.
	sweeps int
}

// Receive converts each message into a machine event and carries out the
// effects the machine returns.
func (s *scheduler) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		s.ticker = ticker.Start(ctx, s.cfg.Interval, tick{})
	case *actor.Stopping, *actor.Restarting:
		// A restart builds a new actor with its own ticker.
		s.ticker.Stop()
	case tick:
		// Deadlines and the schedule are on the local monotonic clock;
		// only tombstone ages use cfg.Now.
		now := time.Now()
		view := s.view()
		if view != nil {
			s.partitions = len(view.Partitions)
		}
		s.carry(ctx, s.m.Tick(now, view, s.rng))
		st := s.m.Stats(now)
		s.cfg.Metrics.schedule(st, st.Sweeps-s.sweeps)
		s.sweeps = st.Sweeps
	case *messages.Envelope:
		s.carry(ctx, s.step(msg))
	}
}

// step converts a reply of a vnode or hint queue into the machine's event.
func (s *scheduler) step(env *messages.Envelope) antientropy.Effects {
	id := env.GetRequestId()
	switch body := env.GetBody().(type) {
	case *messages.Envelope_ErrorReply:
		return s.m.Failed(id, body.ErrorReply.GetMessage())
	case *messages.Envelope_MerkleReply:
		r := body.MerkleReply
		return s.m.Hashes(id, r.GetHashes(), merkle.Shape{Fanout: int(r.GetFanout()), Depth: int(r.GetDepth())})
	case *messages.Envelope_BucketKeysReply:
		kvs := body.BucketKeysReply.GetKeys()
		keys := make([]merkle.KeyVersion, len(kvs))
		for i, kv := range kvs {
			keys[i] = merkle.KeyVersion{Key: kv.GetKey(), ValueHash: kv.GetValueHash()}
		}
		return s.m.Keys(id, keys)
	case *messages.Envelope_GetReply:
		obj, err := wire.ObjectFromProto(body.GetReply.GetObject())
		if err != nil {
			return s.m.Unreadable(id, err)
		}
		return s.m.Object(id, obj, proto.Size(body.GetReply))
	case *messages.Envelope_MergeReply:
		return s.m.Merged(id)
	case *messages.Envelope_TombstonesReply:
		return s.m.Tombstones(id, body.TombstonesReply.GetKeys())
	case *messages.Envelope_HintsForReply:
		return s.m.Hints(id, body.HintsForReply.GetCount())
	case *messages.Envelope_ReapReply:
		return s.m.Reaped(id, body.ReapReply.GetReaped())
	}
	return antientropy.Effects{}
}
