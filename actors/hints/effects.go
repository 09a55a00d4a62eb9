package hints

import (
	"bytes"
	"errors"

	"github.com/asynkron/protoactor-go/actor"
	"google.golang.org/protobuf/proto"

	"github.com/dhtkv/dht/cluster/ring"
	"github.com/dhtkv/dht/internal/hintq"
	"github.com/dhtkv/dht/messages"
	"github.com/dhtkv/dht/metrics"
	"github.com/dhtkv/dht/persistence"
)

// hintResults names the machine's results in the metrics' vocabulary; the
// labels are the same words (TestHintResults_SameLabels).
var hintResults = map[hintq.Result]metrics.HintResult{
	hintq.ResultStored:         metrics.HintStored,
	hintq.ResultRefusedFull:    metrics.HintRefusedFull,
	hintq.ResultRefusedStorage: metrics.HintRefusedStorage,
	hintq.ResultDelivered:      metrics.HintDelivered,
}

// load feeds the machine every hint stored by an earlier life of the queue.
func (a *queue) load() error {
	return a.cfg.Engine.Scan(persistence.HintPrefix(), nil, func(key, value []byte) bool {
		if target, seq, ok := persistence.SplitHintKey(key); ok {
			a.q.Load(hintq.Ref{Target: target, Seq: seq, Size: int64(len(value))})
		}
		return true
	})
}

// offer encodes a coordinator's hint, lets the machine decide on it,
// persists it when accepted, and returns the reply.
func (a *queue) offer(ctx actor.Context, req *messages.HintRequest) *messages.HintReply {
	raw, err := proto.Marshal(&messages.Hint{
		Target: req.GetTarget(), Partition: req.GetPartition(), Key: req.GetKey(),
		Object: req.GetObject(), CreatedUnixMs: a.cfg.Now().UnixMilli(),
	})
	if err != nil {
		// Not a domain value at all: the machine never sees it.
		return &messages.HintReply{Reason: err.Error()}
	}
	eff := a.q.Offer(hintq.Offer{Target: req.GetTarget(), Key: req.GetKey(), Size: int64(len(raw))})
	if ref := eff.Persist; ref != nil {
		eff = a.q.Persisted(*ref, a.cfg.Engine.Put(persistence.HintKey(ref.Target, ref.Seq), raw))
	}
	a.carry(ctx, eff, nil)
	return &messages.HintReply{Stored: eff.Reply.Stored, Reason: eff.Reply.Reason}
}

// deliver runs a delivery round for every target the machine picks: it
// reads the target's stored hints in order and hands each to the machine,
// with the redirect answer for its partition when the target was removed.
func (a *queue) deliver(ctx actor.Context) {
	now := a.cfg.RetryClock()
	reach := map[string]hintq.Reach{}
	for _, target := range a.q.Targets() {
		_, removed := a.redirect(target, 0)
		// A removed target's liveness does not matter: its hints go
		// elsewhere.
		reach[target] = hintq.Reach{Removed: removed, Alive: !removed && a.cfg.Alive(target)}
	}
	for _, r := range a.q.Tick(now, reach) {
		err := a.cfg.Engine.Scan(persistence.HintTargetPrefix(r.Target), nil, func(key, value []byte) bool {
			_, seq, ok := persistence.SplitHintKey(key)
			if !ok {
				return true
			}
			var h messages.Hint
			decodeErr := proto.Unmarshal(value, &h)
			if decodeErr == nil && a.cfg.Partitions != nil && len(h.GetKey()) > 0 {
				// A hint stored before a resize names its key's
				// partition on the smaller ring.
				if q := a.cfg.Partitions(); q > 0 {
					h.Partition = ring.PartitionOf(h.GetKey(), q)
				}
			}
			var redirect string
			if r.Redirect && decodeErr == nil {
				redirect, _ = a.redirect(r.Target, h.GetPartition())
			}
			eff, more := a.q.Consider(r, hintq.Hint{
				Ref:       hintq.Ref{Target: r.Target, Seq: seq, Size: int64(len(value))},
				Partition: h.GetPartition(), Readable: decodeErr == nil,
			}, redirect)
			if rm := eff.Delete; rm != nil && rm.Why == hintq.WhyUnreadable {
				a.cfg.Logger.Error("dropping an unreadable hint", "target", r.Target, "seq", seq, "err", decodeErr)
			}
			a.carry(ctx, eff, &h)
			return more
		})
		if err != nil {
			a.cfg.Logger.Error("reading hints", "target", r.Target, "err", err)
		}
		a.q.Scanned(r, err == nil)
	}
}

func (a *queue) redirect(target string, p uint32) (string, bool) {
	if a.cfg.Redirect == nil {
		return "", false
	}
	return a.cfg.Redirect(target, p)
}

// carry carries out eff, but for Persist (offer does it, holding the
// encoded hint) and Reply (offer returns it): delete, feeding the outcome
// back to the machine; send, with h the hint being delivered; then the
// metric, the gauges, and another round when the machine asks for one.
func (a *queue) carry(ctx actor.Context, eff hintq.Effects, h *messages.Hint) {
	if rm := eff.Delete; rm != nil {
		err := a.cfg.Engine.Delete(persistence.HintKey(rm.Target, rm.Seq))
		ok := err == nil || errors.Is(err, persistence.ErrClosed)
		if !ok {
			a.cfg.Logger.Error("deleting a delivered hint", "target", rm.Target, "err", err)
		}
		a.carry(ctx, a.q.Deleted(*rm, ok), nil)
	}
	if d := eff.Send; d != nil {
		ctx.Request(a.cfg.VnodePID(d.Node, d.Partition), &messages.Envelope{
			RequestId: d.Req,
			Body: &messages.Envelope_MergeRequest{MergeRequest: &messages.MergeRequest{
				Partition: d.Partition, Key: h.GetKey(), Object: h.GetObject(),
			}},
		})
	}
	if eff.Count != "" && a.cfg.Metrics != nil {
		a.cfg.Metrics.CountHint(hintResults[eff.Count])
	}
	for _, g := range eff.Gauges {
		if a.cfg.Stats != nil {
			a.cfg.Stats.set(g.Target, g.Pending, g.TotalBytes)
		}
		if a.cfg.Metrics != nil {
			a.cfg.Metrics.HintsPending.WithLabelValues(g.Target).Set(float64(g.Pending))
		}
	}
	if eff.Wake {
		// The batch is done and more wait: go on now rather than at the
		// next tick, so a returning node catches up fast.
		ctx.Send(ctx.Self(), tick{})
	}
}

// hintsFor counts the hints kept for one key. It scans every hint, which is
// fine: hints are few, and the reaper asks only about old tombstones.
func (a *queue) hintsFor(req *messages.HintsForRequest) (uint32, error) {
	var n uint32
	err := a.cfg.Engine.Scan(persistence.HintPrefix(), nil, func(_, value []byte) bool {
		var h messages.Hint
		if proto.Unmarshal(value, &h) == nil && h.GetPartition() == req.GetPartition() && bytes.Equal(h.GetKey(), req.GetKey()) {
			n++
		}
		return true
	})
	return n, err
}
