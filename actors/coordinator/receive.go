package coordinator

import (
	"math/rand/v2"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/dhtkv/dht/internal/dvv"
	"github.com/dhtkv/dht/internal/quorum"
	"github.com/dhtkv/dht/messages"
)

// Props returns the props of a coordinator: a long-lived actor that runs
// every request sent to it (Start) at once, each through its own quorum
// machine. A node runs a few of them side by side (the gateway's), rather
// than one actor per request: spawning and stopping an actor, and the
// future a caller would wait on, cost more than the request's own work.
func Props(cfg Config) *actor.Props {
	var opts []actor.PropsOption
	if cfg.Dispatcher != nil {
		opts = append(opts, actor.WithDispatcher(cfg.Dispatcher))
	}
	return actor.PropsFromProducer(func() actor.Actor {
		return &coordinator{cfg: &cfg, requests: map[uint64]*request{}}
	}, opts...)
}

// deadlineExpired is a request's timer's message: its deadline passed.
type deadlineExpired struct{ seq uint64 }

// coordinatorLate is a write's coordinator timer's message: node, asked to
// coordinate it, has not answered within Config.CoordinateTimeout.
type coordinatorLate struct {
	seq  uint64
	node string
}

// inflightQuery asks how many requests the coordinator still runs; it
// answers with an int (for tests and debugging).
type inflightQuery struct{}

// coordinator runs many requests. Each request has a number, seq, and its
// ledger numbers its messages under it (quorum.MessageBits), so a replica's
// answer finds its request by the id it carries back.
type coordinator struct {
	cfg      *Config
	requests map[uint64]*request
	seq      uint64
}

// request is one request's state. Every decision is its machine's (put or
// get) or its ledger's; the coordinator converts messages to their events
// and carries out what they return.
type request struct {
	cfg  *Config
	seq  uint64
	req  Request
	done chan<- *Reply
	// route is where the partition's replicas are, asked once at start.
	route Route
	// coordNode is the replica that produced a write's first coordinated
	// object, whose hint queue keeps the write's hints, and coordinated
	// the object the machine last sent out (nil until one exists).
	coordNode   string
	coordinated *dvv.Set
	// hintRefusals says why fallbacks refused hints, for the client's
	// answer when W is then missed.
	hintRefusals []string
	// readRefusals names the replicas that refused a read as not ready
	// (rebuilding after a data loss), for the client's answer when R is
	// then missed.
	readRefusals []string
	put          *quorum.Put
	get          *quorum.Get
	// ledger numbers the messages to replicas and remembers the ones whose
	// answers are awaited.
	ledger quorum.Ledger
	timer  *time.Timer
	// coordTimer fires when the replica last asked to coordinate a write
	// has not answered within Config.CoordinateTimeout.
	coordTimer *time.Timer
	// writeID names a write that may be handed over (a coordinator
	// timeout is set, and every member keeps write ids), so that its two
	// copies, when both coordinations land, are one sibling (dvv's
	// request ids); zero otherwise, and the write is not handed over.
	writeID uint64
	replied bool
}

// Receive starts requests, steps the one each answer or deadline belongs
// to, and forgets a request once its machine is done and no answer is
// awaited.
func (c *coordinator) Receive(ctx actor.Context) {
	var r *request
	switch msg := ctx.Message().(type) {
	case *Start:
		r = c.start(ctx, msg)
	case *messages.Envelope:
		// An id naming no request is a straggler's answer after its
		// request was forgotten: ignored.
		if r = c.requests[msg.GetRequestId()>>quorum.MessageBits]; r != nil {
			r.onAnswer(ctx, msg)
		}
	case deadlineExpired:
		if r = c.requests[msg.seq]; r != nil {
			r.onDeadline(ctx)
		}
	case coordinatorLate:
		if r = c.requests[msg.seq]; r != nil && r.put != nil {
			r.onCoordinatorLate(ctx, msg.node)
		}
	case *inflightQuery:
		ctx.Respond(len(c.requests))
	case *actor.Stopping, *actor.Restarting:
		c.abandon()
	}
	if r != nil && r.finished() {
		r.stopTimers()
		delete(c.requests, r.seq)
	}
}

// start numbers a new request, arms its deadline, looks up the partition's
// route, and starts its machine: a read asks the owners, a write its
// coordinating replica.
func (c *coordinator) start(ctx actor.Context, msg *Start) *request {
	c.seq++
	r := &request{cfg: c.cfg, seq: c.seq, req: msg.Request, done: msg.Done,
		ledger: quorum.Ledger{Base: c.seq << quorum.MessageBits}}
	if c.cfg.CoordinateTimeout > 0 && (c.cfg.HandOverAllowed == nil || c.cfg.HandOverAllowed()) {
		// Random, not counted: two gateways must never name two writes
		// alike, and 64 bits make a clash among one key's siblings
		// negligible.
		for r.writeID == 0 {
			r.writeID = rand.Uint64()
		}
	}
	c.requests[r.seq] = r
	self, root, seq := ctx.Self(), ctx.ActorSystem().Root, r.seq
	r.timer = time.AfterFunc(time.Until(r.req.Deadline), func() { root.Send(self, deadlineExpired{seq: seq}) })
	r.route = c.cfg.Router.Route(r.req.Partition)
	if r.req.Op == OpGet || r.req.readsFirst() {
		r.get = quorum.NewGet(r.req.Params, quorum.ReadTargets(r.route.Targets))
		r.carryGet(ctx, r.get.Start())
		return r
	}
	r.startPut(ctx)
	return r
}

// startPut starts the write's machine, pinned to its first coordinating
// replica when the write is conditional.
func (r *request) startPut(ctx actor.Context) {
	r.put = quorum.NewPut(r.req.Params, r.route.Targets)
	if !r.req.Precondition.IsZero() {
		r.put.Pin()
	}
	r.carryPut(ctx, r.put.Start())
}

// abandon answers every request not yet answered, when the actor stops or
// restarts (a panic): its requests' state is lost, and a caller should not
// wait out the deadline for an answer that cannot come (Request.Unanswered).
func (c *coordinator) abandon() {
	for seq, r := range c.requests {
		r.stopTimers()
		r.reply(&Reply{Err: r.req.Unanswered()})
		delete(c.requests, seq)
	}
}

// onAnswer routes a replica's answer, found by its request id in the
// ledger, to the handler of what it answers. An id the ledger does not
// await is a straggler's answer after the deadline, or a repair's: ignored.
func (r *request) onAnswer(ctx actor.Context, env *messages.Envelope) {
	out, ok := r.ledger.Answer(env.GetRequestId())
	if !ok {
		return
	}
	if e := env.GetErrorReply(); e != nil {
		r.cfg.Logger.Debug("replica error", "node", out.Node, "kind", out.Kind.String(), "code", e.GetCode(), "err", e.GetMessage())
	}
	switch out.Kind {
	case quorum.KindCoordinate:
		r.onCoordinated(ctx, out, env)
	case quorum.KindHint:
		r.onHintAnswer(ctx, out, env)
	case quorum.KindReplicate:
		r.onReplicated(ctx, out, env)
	case quorum.KindRead:
		r.onRead(ctx, out, env)
	case quorum.KindPending, quorum.KindRepair:
		// Not counted: a pending owner's miss is hinted at the deadline; a
		// repair is never awaited.
	}
}

// onCoordinatorLate tells the write's machine that node, asked to
// coordinate, has not answered in time; the machine may hand the write to
// the next owner (carryPut sends it and arms its timer).
func (r *request) onCoordinatorLate(ctx actor.Context, node string) {
	eff := r.put.CoordinatorLate(node)
	if eff.Coordinate != nil {
		r.cfg.Logger.Debug("coordinator late; write handed to the next owner", "late", node, "next", eff.Coordinate.Node)
		if r.cfg.Metrics != nil {
			r.cfg.Metrics.CoordinatorHandovers.Inc()
		}
	}
	r.carryPut(ctx, eff)
}

// armCoordinateTimer arms the timer that reports node late if it has not
// answered within Config.CoordinateTimeout (none when that is zero, or
// the write has no write id: see request.writeID). A
// timer still armed for an earlier coordinator is stopped: the machine
// only hands over from the latest one asked.
func (r *request) armCoordinateTimer(ctx actor.Context, node string) {
	if r.cfg.CoordinateTimeout <= 0 || r.writeID == 0 {
		return
	}
	if r.coordTimer != nil {
		r.coordTimer.Stop()
	}
	self, root, seq := ctx.Self(), ctx.ActorSystem().Root, r.seq
	r.coordTimer = time.AfterFunc(r.cfg.CoordinateTimeout, func() { root.Send(self, coordinatorLate{seq: seq, node: node}) })
}

func (r *request) stopTimers() {
	r.timer.Stop()
	if r.coordTimer != nil {
		r.coordTimer.Stop()
	}
}

// onDeadline tells the machine the deadline passed, hints the write to the
// replicas that missed it, and gives up on every answer still out.
func (r *request) onDeadline(ctx actor.Context) {
	if r.get != nil {
		r.carryGet(ctx, r.get.Timeout())
	}
	if r.put != nil {
		r.carryPut(ctx, r.put.Timeout())
		r.hintLate(ctx)
	}
	r.ledger.GiveUp()
}

// finished reports whether the request may be forgotten: the client has
// its answer, its machines (a delete sent without a context has both, the
// read first) have nothing left to do, and no answer is awaited.
func (r *request) finished() bool {
	return r.replied && (r.get == nil || r.get.Done()) && (r.put == nil || r.put.Done()) && r.ledger.Awaiting() == 0
}
