package coordinator

import (
	"fmt"
	"strings"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/dhtkv/dht/internal/quorum"
	"github.com/dhtkv/dht/messages"
	"github.com/dhtkv/dht/wire"
)

// onRead feeds a replica's copy, or its failure, to the read machine.
func (c *request) onRead(ctx actor.Context, out quorum.Outstanding, env *messages.Envelope) {
	obj, err := wire.ObjectFromProto(env.GetGetReply().GetObject())
	if e := env.GetErrorReply(); e != nil || err != nil {
		if e.GetCode() == messages.ErrorCode_ERROR_CODE_NOT_READY {
			// Named in the client's answer if R is then missed: a node
			// rebuilding its data after a loss is not a node that is down.
			c.readRefusals = append(c.readRefusals, out.Node+" is not ready to serve reads of this partition ("+e.GetMessage()+")")
		}
		c.carryGet(ctx, c.get.Failed(out.Node))
		return
	}
	c.carryGet(ctx, c.get.Answered(out.Node, obj))
}

// deleteRead carries out the decision on the read a delete sent without a
// context made first (quorum.BlindDelete): write the tombstone with the
// read's context, or answer the read's failure or that nothing live was
// found, having written nothing.
func (c *request) deleteRead(ctx actor.Context, read quorum.GetResult) {
	vv, found, err := quorum.BlindDelete(read, c.cfg.now())
	switch {
	case err != nil:
		c.reply(&Reply{Err: err})
	case !found:
		c.reply(&Reply{Object: read.Object, NotFound: true})
	default:
		c.req.Context = vv
		c.startPut(ctx)
	}
}

// carryGet carries out a read machine's effects, in order: ask the owners,
// answer the client, repair the stale replicas (fire and forget).
func (c *request) carryGet(ctx actor.Context, eff quorum.GetEffects) {
	for _, t := range eff.Ask {
		c.send(ctx, t, quorum.KindRead, &messages.Envelope{Body: &messages.Envelope_GetRequest{GetRequest: &messages.GetRequest{
			Partition: c.req.Partition, Key: c.req.Key,
		}}})
	}
	if r := eff.Reply; r != nil {
		if r.Err != nil && len(c.readRefusals) > 0 {
			r.Err = fmt.Errorf("%w; %s", r.Err, strings.Join(c.readRefusals, "; "))
		}
		if c.req.Op == OpGet {
			c.reply(&Reply{Object: r.Object, Err: r.Err})
		} else {
			c.deleteRead(ctx, *r)
		}
	}
	if len(eff.Repair) > 0 {
		repair := c.mergeRequest(eff.Merged)
		for _, t := range eff.Repair {
			c.send(ctx, t, quorum.KindRepair, repair)
		}
		if c.cfg.Metrics != nil {
			c.cfg.Metrics.ReadRepairs.Add(float64(len(eff.Repair)))
		}
	}
}
