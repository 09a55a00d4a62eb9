package hints

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"google.golang.org/protobuf/proto"

	"github.com/dhtkv/dht/actorsys/ticker"
	"github.com/dhtkv/dht/messages"
	"github.com/dhtkv/dht/metrics"
	"github.com/dhtkv/dht/persistence"
)

// Stats is a read-only view of a hint queue for the admin API, updated by
// the queue actor. Safe for concurrent use.
type Stats struct {
	mu struct {
		sync.Mutex
		pending map[string]int
		bytes   int64
	}
}

// Pending returns the hints kept per target node, and their total bytes.
func (s *Stats) Pending() (map[string]int, int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.mu.pending))
	for k, v := range s.mu.pending {
		if v > 0 {
			out[k] = v
		}
	}
	return out, s.mu.bytes
}

func (s *Stats) set(target string, count int, total int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.pending == nil {
		s.mu.pending = map[string]int{}
	}
	s.mu.pending[target] = count
	s.mu.bytes = total
}

// Config configures the hint queue.
type Config struct {
	// Stats, when set, is kept up to date for the admin API.
	Stats    *Stats
	Engine   persistence.Engine
	MaxHints int
	MaxBytes int64
	// Interval is how often pending hints are offered to live targets.
	Interval time.Duration
	// BatchSize bounds the hints in flight to one target.
	BatchSize int
	// Alive reports whether a target node can take deliveries now.
	Alive func(node string) bool
	// VnodePID returns the PID of partition p's vnode on node.
	VnodePID func(node string, p uint32) *actor.PID
	// Redirect, when set, says where hints go whose target was removed from
	// the ring (force-removed: it will never come back): ok is true for such
	// a target, and node is a live serving replica of p, or "" while there
	// is none. Without it those hints would wait forever.
	Redirect func(target string, p uint32) (node string, ok bool)
	// RetryClock is the clock retry timing runs on; nil means time.Now,
	// whose monotonic reading never jumps. It is apart from Now because the
	// data clock may be skewed or jump back: a batch would then look sent
	// in the future and never be offered again.
	RetryClock func() time.Time
	// Now is the wall clock for hint timestamps; nil means time.Now.
	Now     func() time.Time
	Metrics *metrics.Metrics
	Logger  *slog.Logger
}

// Props returns the props of the hint queue actor.
func Props(cfg Config) *actor.Props {
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 64
	}
	if cfg.RetryClock == nil {
		cfg.RetryClock = time.Now
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return actor.PropsFromProducer(func() actor.Actor {
		return &queue{cfg: cfg, pending: map[string]*targetState{}, inflight: map[uint64]delivery{}}
	})
}

// targetState is what the queue tracks per target node.
type targetState struct {
	count    int
	bytes    int64
	nextSeq  uint64
	inflight int
	// sentAt is when the current batch went out; a batch not acknowledged
	// within a few intervals is offered again.
	sentAt time.Time
}

// delivery is one hint on its way to its target.
type delivery struct {
	target string
	seq    uint64
	size   int64
}

type tick struct{}

type queue struct {
	cfg        Config
	pending    map[string]*targetState
	totalCount int
	totalBytes int64
	inflight   map[uint64]delivery
	nextReq    uint64
	ticker     *ticker.Ticker
}

func (q *queue) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		if err := q.load(); err != nil {
			q.cfg.Logger.Error("reading stored hints", "err", err)
		}
		for target := range q.pending {
			q.gauge(target)
		}
		q.ticker = ticker.Start(ctx, q.cfg.Interval, tick{})
	case *actor.Stopping, *actor.Restarting:
		// A supervisor restart builds a new queue with its own ticker, so
		// this one's ticker must stop either way.
		q.ticker.Stop()
	case tick:
		q.deliver(ctx)
	case *messages.Envelope:
		switch body := msg.GetBody().(type) {
		case *messages.Envelope_HintRequest:
			reply := q.store(body.HintRequest)
			if ctx.Sender() != nil {
				ctx.Respond(&messages.Envelope{RequestId: msg.GetRequestId(), Body: &messages.Envelope_HintReply{HintReply: reply}})
			}
		case *messages.Envelope_HintsForRequest:
			if ctx.Sender() == nil {
				return
			}
			reply := &messages.Envelope{RequestId: msg.GetRequestId()}
			if n, err := q.hintsFor(body.HintsForRequest); err != nil {
				// Unknown is not zero: the reaper must not act on it.
				reply.Body = &messages.Envelope_ErrorReply{ErrorReply: &messages.ErrorReply{Code: messages.ErrorCode_ERROR_CODE_STORAGE, Message: err.Error()}}
			} else {
				reply.Body = &messages.Envelope_HintsForReply{HintsForReply: &messages.HintsForReply{Count: n}}
			}
			ctx.Respond(reply)
		case *messages.Envelope_MergeReply:
			if q.delivered(msg.GetRequestId()) {
				// The batch is done and more wait: go on now rather than
				// at the next tick, so a returning node catches up fast.
				ctx.Send(ctx.Self(), tick{})
			}
		case *messages.Envelope_ErrorReply:
			q.failed(msg.GetRequestId(), body.ErrorReply)
		}
	}
}

// load rebuilds the per-target counts from the stored hints.
func (q *queue) load() error {
	return q.cfg.Engine.Scan(persistence.HintPrefix(), nil, func(key, value []byte) bool {
		target, seq, ok := persistence.SplitHintKey(key)
		if !ok {
			return true
		}
		st := q.target(target)
		st.count++
		st.bytes += int64(len(value))
		st.nextSeq = max(st.nextSeq, seq+1)
		q.totalCount++
		q.totalBytes += int64(len(value))
		return true
	})
}

func (q *queue) target(id string) *targetState {
	st, ok := q.pending[id]
	if !ok {
		st = &targetState{nextSeq: 1}
		q.pending[id] = st
	}
	return st
}

// store persists one hint, or refuses it when the queue is full.
func (q *queue) store(req *messages.HintRequest) *messages.HintReply {
	raw, err := proto.Marshal(&messages.Hint{
		Target: req.GetTarget(), Partition: req.GetPartition(), Key: req.GetKey(),
		Object: req.GetObject(), CreatedUnixMs: q.cfg.Now().UnixMilli(),
	})
	if err != nil {
		return &messages.HintReply{Reason: err.Error()}
	}
	if req.GetTarget() == "" || len(req.GetKey()) == 0 {
		return &messages.HintReply{Reason: "hint without target or key"}
	}
	if q.totalCount+1 > q.cfg.MaxHints || q.totalBytes+int64(len(raw)) > q.cfg.MaxBytes {
		q.count("refused_full")
		return &messages.HintReply{Reason: fmt.Sprintf("hint queue full (%d hints, %d bytes; handoff.max_hints=%d, handoff.max_hint_bytes=%d)",
			q.totalCount, q.totalBytes, q.cfg.MaxHints, q.cfg.MaxBytes)}
	}
	st := q.target(req.GetTarget())
	if err := q.cfg.Engine.Put(persistence.HintKey(req.GetTarget(), st.nextSeq), raw); err != nil {
		q.count("refused_storage")
		return &messages.HintReply{Reason: err.Error()}
	}
	st.nextSeq++
	st.count++
	st.bytes += int64(len(raw))
	q.totalCount++
	q.totalBytes += int64(len(raw))
	q.count("stored")
	q.gauge(req.GetTarget())
	return &messages.HintReply{Stored: true}
}

// deliver offers a batch of pending hints to every target that is alive
// and has nothing in flight (or whose batch went unanswered too long).
func (q *queue) deliver(ctx actor.Context) {
	now := q.cfg.RetryClock()
	for target, st := range q.pending {
		_, removed := q.redirect(target, 0)
		if st.count == 0 || (!removed && !q.cfg.Alive(target)) {
			continue
		}
		if st.inflight > 0 {
			if now.Sub(st.sentAt) < 5*q.cfg.Interval {
				continue
			}
			q.forget(target) // the batch was lost: offer it again
		}
		sent := 0
		err := q.cfg.Engine.Scan(persistence.HintTargetPrefix(target), nil, func(key, value []byte) bool {
			_, seq, ok := persistence.SplitHintKey(key)
			if !ok {
				return true
			}
			var h messages.Hint
			if err := proto.Unmarshal(value, &h); err != nil {
				q.cfg.Logger.Error("dropping an unreadable hint", "target", target, "seq", seq, "err", err)
				q.remove(target, seq, int64(len(value)))
				return true
			}
			node := target
			if removed {
				if node, _ = q.redirect(target, h.GetPartition()); node == "" {
					return true // no serving replica is alive yet
				}
			}
			q.nextReq++
			q.inflight[q.nextReq] = delivery{target: target, seq: seq, size: int64(len(value))}
			ctx.Request(q.cfg.VnodePID(node, h.GetPartition()), &messages.Envelope{
				RequestId: q.nextReq,
				Body: &messages.Envelope_MergeRequest{MergeRequest: &messages.MergeRequest{
					Partition: h.GetPartition(), Key: h.GetKey(), Object: h.GetObject(),
				}},
			})
			sent++
			return sent < q.cfg.BatchSize
		})
		if err != nil {
			q.cfg.Logger.Error("reading hints", "target", target, "err", err)
			continue
		}
		st.inflight, st.sentAt = sent, now
	}
}

func (q *queue) redirect(target string, p uint32) (string, bool) {
	if q.cfg.Redirect == nil {
		return "", false
	}
	return q.cfg.Redirect(target, p)
}

// delivered records an acknowledged delivery and reports whether the
// target's batch is complete with more hints waiting.
func (q *queue) delivered(req uint64) bool {
	d, ok := q.inflight[req]
	if !ok {
		return false
	}
	delete(q.inflight, req)
	q.remove(d.target, d.seq, d.size)
	q.count("delivered")
	st := q.pending[d.target]
	if st != nil && st.inflight > 0 {
		st.inflight--
	}
	return st != nil && st.inflight == 0 && st.count > 0
}

func (q *queue) failed(req uint64, e *messages.ErrorReply) {
	d, ok := q.inflight[req]
	if !ok {
		return
	}
	delete(q.inflight, req)
	q.cfg.Logger.Warn("hint delivery refused; will retry", "target", d.target, "code", e.GetCode(), "err", e.GetMessage())
	if st := q.pending[d.target]; st != nil && st.inflight > 0 {
		st.inflight--
	}
}

// forget drops the in-flight records of target, so its hints are offered
// again; a late acknowledgement is then ignored, and the hint it named is
// delivered (harmlessly) twice.
func (q *queue) forget(target string) {
	for id, d := range q.inflight {
		if d.target == target {
			delete(q.inflight, id)
		}
	}
	q.pending[target].inflight = 0
}

func (q *queue) remove(target string, seq uint64, size int64) {
	if err := q.cfg.Engine.Delete(persistence.HintKey(target, seq)); err != nil && !errors.Is(err, persistence.ErrClosed) {
		q.cfg.Logger.Error("deleting a delivered hint", "target", target, "err", err)
		return
	}
	st := q.target(target)
	st.count--
	st.bytes -= size
	q.totalCount--
	q.totalBytes -= size
	q.gauge(target)
}

func (q *queue) count(result string) {
	if q.cfg.Metrics != nil {
		q.cfg.Metrics.Hints.WithLabelValues(result).Inc()
	}
}

func (q *queue) gauge(target string) {
	if q.cfg.Stats != nil {
		q.cfg.Stats.set(target, q.pending[target].count, q.totalBytes)
	}
	if q.cfg.Metrics != nil {
		q.cfg.Metrics.HintsPending.WithLabelValues(target).Set(float64(q.pending[target].count))
	}
}

// hintsFor counts the hints kept for one key. It scans every hint, which is
// fine: hints are few, and the reaper asks only about old tombstones.
func (q *queue) hintsFor(req *messages.HintsForRequest) (uint32, error) {
	var n uint32
	err := q.cfg.Engine.Scan(persistence.HintPrefix(), nil, func(_, value []byte) bool {
		var h messages.Hint
		if proto.Unmarshal(value, &h) == nil && h.GetPartition() == req.GetPartition() && bytes.Equal(h.GetKey(), req.GetKey()) {
			n++
		}
		return true
	})
	return n, err
}
