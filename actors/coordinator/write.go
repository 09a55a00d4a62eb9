package coordinator

import (
	"time"

	"fmt"
	"strings"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/dhtkv/dht/internal/dvv"
	"github.com/dhtkv/dht/internal/quorum"
	"github.com/dhtkv/dht/messages"
	"github.com/dhtkv/dht/wire"
)

// onCoordinated handles a coordinating vnode's answers: the object,
// minted and not yet durable, then the confirmation of its write (which
// carries no object); or one answer with both (a vnode that writes
// synchronously); or an error. After a handover two vnodes may answer; the
// machine tells their answers apart by node.
func (c *request) onCoordinated(ctx actor.Context, out quorum.Outstanding, env *messages.Envelope) {
	errReply, putReply := env.GetErrorReply(), env.GetPutReply()
	if errReply != nil {
		if !storageFailure(errReply.GetCode()) {
			// A refusal (too many siblings, a bad request); the machine
			// decides whether it is definite.
			c.carryPut(ctx, c.put.Refused(out.Node, &RefusedError{Code: errReply.GetCode(), Message: errReply.GetMessage()}))
			return
		}
		c.carryPut(ctx, c.put.Failed(out.Node))
		return
	}
	obj, err := wire.ObjectFromProto(putReply.GetObject())
	if err != nil {
		c.carryPut(ctx, c.put.Failed(out.Node))
		return
	}
	if putReply.GetMinted() {
		// The confirmation comes under the same request id.
		c.ledger.AwaitAgain(env.GetRequestId(), out)
		c.carryPut(ctx, c.put.Minted(out.Node, obj))
		return
	}
	c.carryPut(ctx, c.put.Coordinated(out.Node, obj))
}

// onReplicated counts a replica's answer to the coordinated object.
func (c *request) onReplicated(ctx actor.Context, out quorum.Outstanding, env *messages.Envelope) {
	if env.GetErrorReply() != nil {
		c.carryPut(ctx, c.put.Failed(out.Node))
		return
	}
	c.carryPut(ctx, c.put.Acked(out.Node))
}

// onHintAnswer counts a fallback's answer to a hint: stored, it counts
// toward W like a replica's; refused (a full queue, a storage error), it is
// a failure whose reason the client is told if W is then missed.
func (c *request) onHintAnswer(ctx actor.Context, out quorum.Outstanding, env *messages.Envelope) {
	if h := env.GetHintReply(); h != nil && h.GetStored() {
		c.carryPut(ctx, c.put.Acked(out.Node))
		return
	}
	reason := env.GetHintReply().GetReason()
	if e := env.GetErrorReply(); e != nil {
		reason = e.GetMessage()
	}
	c.cfg.Logger.Warn("hint refused; not counted toward w", "node", out.Node, "reason", reason)
	c.hintRefusals = append(c.hintRefusals, out.Node+": "+reason)
	c.carryPut(ctx, c.put.Failed(out.Node))
}

// sendAlongside records a coordinated object (after a handover, the merge
// of both coordinators' objects) and sends it where it goes besides the
// replicas counted toward W.
func (c *request) sendAlongside(ctx actor.Context, minter string, obj dvv.Set) {
	if c.coordNode == "" {
		c.coordNode = minter
	}
	c.coordinated = &obj
	// No fallback exists for these owners: the coordinating replica keeps
	// their hints. Not counted toward W, so fire and forget.
	for _, down := range c.route.Uncovered {
		ctx.Send(c.cfg.Router.HintsPID(c.coordNode), c.hintRequest(down, obj))
	}
	// New owners mid-handoff get the write too; a miss is hinted at the
	// deadline like any straggler's.
	if len(c.route.Pending) > 0 {
		merge := c.mergeRequest(obj)
		for _, node := range c.route.Pending {
			c.send(ctx, quorum.Target{Node: node}, quorum.KindPending, merge)
		}
	}
}

// hintLate hands the coordinating replica's hint queue a copy of the write
// for every replica that missed the deadline (the ledger's Late): gossip
// may not have noticed yet that it is down, and without a hint it would stay
// stale until a read repairs it.
func (c *request) hintLate(ctx actor.Context) {
	if !c.cfg.Hints || c.coordinated == nil {
		return
	}
	for _, node := range c.ledger.Late() {
		ctx.Send(c.cfg.Router.HintsPID(c.coordNode), c.hintRequest(node, *c.coordinated))
	}
}

// carryPut carries out a write machine's effects, in order: ask the
// coordinating replica to write (and arm its coordinator timer), send its
// object to the other replicas (a fallback keeps it as a hint) and where
// else it goes, answer the client.
func (c *request) carryPut(ctx actor.Context, eff quorum.PutEffects) {
	if t := eff.Coordinate; t != nil {
		// A copy minted after a handover says so (dvv.Sibling.HandedOver):
		// its twin may be out of sight, and its ghost gets the larger cap.
		sib := &messages.Sibling{Value: c.req.Value, ContentType: c.req.ContentType, Tombstone: c.req.Op == OpDelete,
			WriteId: c.writeID, HandedOver: c.writeID != 0 && c.put.HandedOver() > 0}
		// A replica the write may be handed on from gets the handover's
		// deadline: once it passes, the replica refuses the request
		// rather than mint a second dot the client never sees (a paused
		// process resumed, a restarted one fed from a remote's queue).
		// Only then is its timer armed: the last owner that can be asked
		// has nobody to hand over to.
		deadline := c.req.Deadline
		mayHandOver := c.writeID != 0 && c.put.CanHandOver()
		if mayHandOver {
			if handover := time.Now().Add(c.cfg.CoordinateTimeout); handover.Before(deadline) {
				deadline = handover
			}
		}
		put := &messages.PutRequest{
			Partition: c.req.Partition, Key: c.req.Key, Context: wire.VVToProto(c.req.Context),
			Value: sib, MaxSiblings: uint32(c.req.MaxSiblings), Early: true,
		}
		if c.req.Op == OpPut && c.req.TTL > 0 {
			put.TtlMs = c.req.TTL.Milliseconds()
		}
		env := &messages.Envelope{Body: &messages.Envelope_PutRequest{PutRequest: put}}
		if !c.req.Precondition.IsZero() {
			ifMatch, ifNoneMatch := wire.PreconditionToProto(c.req.Precondition)
			env.Body = &messages.Envelope_ConditionalPutRequest{ConditionalPutRequest: &messages.ConditionalPutRequest{
				Put: put, IfMatch: ifMatch, IfNoneMatch: ifNoneMatch}}
		}
		c.sendBy(ctx, *t, quorum.KindCoordinate, env, deadline)
		if mayHandOver {
			c.armCoordinateTimer(ctx, t.Node)
		}
	}
	if len(eff.Replicate) > 0 {
		obj := c.mergeRequest(eff.Object)
		for _, t := range eff.Replicate {
			if t.HintFor != "" {
				c.send(ctx, t, quorum.KindHint, c.hintRequest(t.HintFor, eff.Object))
				continue
			}
			c.send(ctx, t, quorum.KindReplicate, obj)
		}
	}
	if eff.Minter != "" {
		c.sendAlongside(ctx, eff.Minter, eff.Object)
	}
	if r := eff.Reply; r != nil {
		err := r.Err
		if err != nil && len(c.hintRefusals) > 0 {
			err = fmt.Errorf("%w; hints refused, not counted toward w: %s", err, strings.Join(c.hintRefusals, "; "))
		}
		c.reply(&Reply{Object: r.Object, Acks: r.Acks, Err: err})
	}
}
