package hints

import (
	"github.com/asynkron/protoactor-go/actor"

	"github.com/dhtkv/dht/actorsys/ticker"
	"github.com/dhtkv/dht/internal/hintq"
	"github.com/dhtkv/dht/messages"
)

// tick asks the queue for a delivery round.
type tick struct{}

// queue is the hint queue actor: the shell around a hintq.Queue. It owns the
// stored hints (the engine), the ticker and the messaging; the machine
// decides.
type queue struct {
	cfg    Config
	q      *hintq.Queue
	ticker *ticker.Ticker
}

// Receive converts each message to the machine's events and carries out
// the effects it returns.
func (a *queue) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		if err := a.load(); err != nil {
			a.cfg.Logger.Error("reading stored hints", "err", err)
		}
		a.carry(ctx, a.q.Loaded(), nil)
		a.ticker = ticker.Start(ctx, a.cfg.Interval, tick{})
	case *actor.Stopping, *actor.Restarting:
		// A supervisor restart builds a new queue with its own ticker, so
		// this one's ticker must stop either way.
		a.ticker.Stop()
	case tick:
		a.deliver(ctx)
	case *messages.Envelope:
		switch body := msg.GetBody().(type) {
		case *messages.Envelope_HintRequest:
			reply := a.offer(ctx, body.HintRequest)
			if ctx.Sender() != nil {
				ctx.Respond(&messages.Envelope{RequestId: msg.GetRequestId(), Body: &messages.Envelope_HintReply{HintReply: reply}})
			}
		case *messages.Envelope_HintsForRequest:
			if ctx.Sender() == nil {
				return
			}
			reply := &messages.Envelope{RequestId: msg.GetRequestId()}
			if n, err := a.hintsFor(body.HintsForRequest); err != nil {
				// Unknown is not zero: the reaper must not act on it.
				reply.Body = &messages.Envelope_ErrorReply{ErrorReply: &messages.ErrorReply{Code: messages.ErrorCode_ERROR_CODE_STORAGE, Message: err.Error()}}
			} else {
				reply.Body = &messages.Envelope_HintsForReply{HintsForReply: &messages.HintsForReply{Count: n}}
			}
			ctx.Respond(reply)
		case *messages.Envelope_MergeReply:
			a.carry(ctx, a.q.Acked(msg.GetRequestId()), nil)
		case *messages.Envelope_ErrorReply:
			eff := a.q.Refused(msg.GetRequestId())
			if d := eff.Retry; d != nil {
				a.cfg.Logger.Warn("hint delivery refused; will retry", "target", d.Target, "code", body.ErrorReply.GetCode(), "err", body.ErrorReply.GetMessage())
			}
			a.carry(ctx, eff, nil)
		}
	}
}
