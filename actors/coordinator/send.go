package coordinator

import (
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/dhtkv/dht/internal/dvv"
	"github.com/dhtkv/dht/internal/quorum"
	"github.com/dhtkv/dht/messages"
	"github.com/dhtkv/dht/wire"
)

// send addresses one envelope to a replica: its vnode, or for a hint its
// node's hint queue. The ledger gives each message its own request id,
// which the answer carries back and which tells which replica answered; a
// message whose answer is not awaited (a repair) is sent without a sender.
func (c *request) send(ctx actor.Context, t quorum.Target, kind quorum.Kind, env *messages.Envelope) {
	c.sendBy(ctx, t, kind, env, c.req.Deadline)
}

// sendBy is send with the envelope's deadline given: the time after which
// the receiver must not act on it.
func (c *request) sendBy(ctx actor.Context, t quorum.Target, kind quorum.Kind, env *messages.Envelope, deadline time.Time) {
	id, awaited := c.ledger.Send(t.Node, kind)
	out := &messages.Envelope{RequestId: id, DeadlineUnixMs: deadline.UnixMilli(), Body: env.GetBody()}
	pid := c.cfg.Router.VnodePID(t.Node, c.req.Partition)
	if kind == quorum.KindHint {
		pid = c.cfg.Router.HintsPID(t.Node)
	}
	if !awaited {
		ctx.Send(pid, out)
		return
	}
	ctx.Request(pid, out)
}

// reply answers the client, once. Done has room for the one answer, so
// the send never blocks; a caller that gave up has simply stopped reading.
func (c *request) reply(r *Reply) {
	if c.replied {
		return
	}
	c.replied = true
	// Every answer is the object as read at this node's clock: expired
	// values are tombstones to the client. What the replicas store, and
	// what read repair and hints send them, keeps its expiry instead.
	r.Object = r.Object.At(c.cfg.now())
	select {
	case c.done <- r:
	default:
	}
}

func (c *request) hintRequest(target string, obj dvv.Set) *messages.Envelope {
	return &messages.Envelope{Body: &messages.Envelope_HintRequest{HintRequest: &messages.HintRequest{
		Target: target, Partition: c.req.Partition, Key: c.req.Key, Object: wire.ObjectToProto(obj),
	}}}
}

func (c *request) mergeRequest(obj dvv.Set) *messages.Envelope {
	return &messages.Envelope{Body: &messages.Envelope_MergeRequest{MergeRequest: &messages.MergeRequest{
		Partition: c.req.Partition, Key: c.req.Key, Object: wire.ObjectToProto(obj),
	}}}
}
